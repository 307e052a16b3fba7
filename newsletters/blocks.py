"""Blocks an editor composes a newsletter issue from."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock

EMAIL_RICH_TEXT_FEATURES = ["bold", "italic", "link", "document-link", "ol", "ul"]


class ButtonBlock(blocks.StructBlock):
    label = blocks.CharBlock(max_length=80)
    page = blocks.PageChooserBlock(required=False)
    url = blocks.URLBlock(required=False, help_text=_("Used when no page is chosen."))

    class Meta:
        icon = "link"
        template = "newsletters/email/blocks/button.mjml"
        description = _("A call-to-action button")
        preview_value = {"label": "Download the handbook", "url": "https://example.org/"}


class StoryBlock(blocks.StructBlock):
    heading = blocks.CharBlock(max_length=200)
    text = blocks.RichTextBlock(features=EMAIL_RICH_TEXT_FEATURES)
    image = ImageChooserBlock(required=False)
    button = ButtonBlock(required=False)

    class Meta:
        icon = "doc-full"
        template = "newsletters/email/blocks/story.mjml"
        description = _("A heading, text, optional image and button")
        preview_value = {
            "heading": "Our handbook becomes a good practice",
            "text": "<p>Downloaded 273 times in three months.</p>",
        }


class NewsletterBodyBlock(blocks.StreamBlock):
    story = StoryBlock()
    rich_text = blocks.RichTextBlock(
        features=EMAIL_RICH_TEXT_FEATURES,
        icon="pilcrow",
        template="newsletters/email/blocks/rich_text.mjml",
        description=_("Formatted text"),
    )
    button = ButtonBlock()
    divider = blocks.StaticBlock(
        icon="horizontalrule",
        admin_text=_("A horizontal line between sections."),
        template="newsletters/email/blocks/divider.mjml",
        description=_("A horizontal line"),
    )
