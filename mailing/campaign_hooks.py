"""Wagtail admin: send or schedule an issue, follow a campaign, read its report."""
