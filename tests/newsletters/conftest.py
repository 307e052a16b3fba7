import itertools

import pytest

from newsletters.models import NewsletterIndexPage, NewsletterPage

_numbers = itertools.count(100)


@pytest.fixture
def issue3(seeded):
    return NewsletterPage.objects.get(issue_number=3)


@pytest.fixture
def make_issue(seeded):
    """A published issue holding just the given body blocks."""

    def make(body, **fields):
        number = next(_numbers)
        page = NewsletterPage(
            title=f"Test issue {number}",
            slug=f"test-issue-{number}",
            issue_number=number,
            subject=fields.pop("subject", f"Test issue {number}"),
            body=body,
            **fields,
        )
        NewsletterIndexPage.objects.get().add_child(instance=page)
        page.save_revision().publish()
        return NewsletterPage.objects.get(pk=page.pk)

    return make
