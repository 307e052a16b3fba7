import pytest


@pytest.fixture
def seeded(db):
    """The demo content of newsletter #3, as `seed_demo` builds it."""
    from cms import demo

    return demo.seed_all()
