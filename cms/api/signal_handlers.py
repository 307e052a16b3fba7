"""Published content changed: touch the fragments it reaches (`cms.api.fragments`), move
the API's content version, tell the front ends."""

import threading

from django.db.models.signals import post_delete, post_save, pre_delete
from wagtail.models import Collection, CollectionViewRestriction, Page, PageViewRestriction, Site
from wagtail.signals import page_published, page_unpublished, post_page_move

from cms.api import fragments, sites, webhooks
from cms.api.models import ContentVersion, PageReference

Kind = PageReference.Kind

# Pages being deleted: Wagtail unpublishes them first, which must not read as "unpublished".
_deleting = threading.local()


def _deleting_ids() -> set:
    if not hasattr(_deleting, "ids"):
        _deleting.ids = set()
    return _deleting.ids


def bump(**kwargs):
    ContentVersion.bump()


def everything_changed(**kwargs):
    """Sites and collection privacy: any page's links or files may change."""
    fragments.touch_all()
    ContentVersion.bump()


def organisation_changed(instance, **kwargs):
    fragments.touch_dependents(Kind.ORGANISATION, [instance.pk])
    ContentVersion.bump()


def image_changed(instance, **kwargs):
    from cms.models import Organisation

    fragments.touch_dependents(Kind.IMAGE, [instance.pk])
    # An organisation embeds its logo: the pages embedding that organisation too.
    logos = Organisation.objects.filter(logo_id=instance.pk).values_list("pk", flat=True)
    fragments.touch_dependents(Kind.ORGANISATION, logos)
    ContentVersion.bump()


def document_changed(instance, **kwargs):
    fragments.touch_dependents(Kind.DOCUMENT, [instance.pk])
    ContentVersion.bump()


def restriction_changed(instance, **kwargs):
    """A view restriction hides or shows a subtree: the cards and links to it change."""
    from wagtail.models import Page

    if instance.page_id is None:
        return
    page = Page.objects.filter(pk=instance.page_id).first()
    if page is not None:
        subtree = Page.objects.descendant_of(page, inclusive=True)
        fragments.touch_dependents(Kind.PAGE, subtree.values_list("pk", flat=True))
        # Their translations list them as translations (or no longer).
        fragments.touch_translations(
            subtree.values_list("translation_key", flat=True),
            exclude=subtree.values_list("pk", flat=True),
        )
    ContentVersion.bump()


def page_published_handler(instance, **kwargs):
    fragments.record_published(instance)
    fragments.touch_dependents(Kind.PAGE, [instance.pk])
    fragments.touch_translations([instance.translation_key], exclude=[instance.pk])
    ContentVersion.bump()
    webhooks.emit(webhooks.page_event(instance, "published"))


def page_unpublished_handler(instance, **kwargs):
    fragments.touch_pages([instance.pk])
    fragments.touch_dependents(Kind.PAGE, [instance.pk])
    fragments.touch_translations([instance.translation_key], exclude=[instance.pk])
    ContentVersion.bump()
    if instance.pk not in _deleting_ids():
        webhooks.emit(webhooks.page_event(instance, "unpublished"))


def page_pre_delete_handler(instance, **kwargs):
    if isinstance(instance, Page):
        _deleting_ids().add(instance.pk)
        # Keep what the event needs: after the delete the row is gone.
        instance._was_live = instance.live


def page_post_delete_handler(instance, **kwargs):
    # A page row is deleted once per table of its model (Page, then InterviewPage, …):
    # speak once, for the row of its own type.
    if not isinstance(instance, Page) or type(instance) is not instance.specific_class:
        return
    _deleting_ids().discard(instance.pk)
    fragments.touch_dependents(Kind.PAGE, [instance.pk])
    fragments.touch_translations([instance.translation_key], exclude=[instance.pk])
    ContentVersion.bump()
    if getattr(instance, "_was_live", instance.live):
        webhooks.emit(webhooks.page_event(instance, "deleted"))


def page_moved_handler(instance, url_path_before, url_path_after, **kwargs):
    from wagtail.models import Page

    # The page and its descendants have new paths: theirs and the links to them change.
    path = Page.objects.filter(pk=instance.pk).values_list("path", flat=True).first()
    subtree = list(
        Page.objects.filter(path__startswith=path or instance.path).values_list("pk", flat=True)
    )
    fragments.touch_pages(subtree)
    fragments.touch_dependents(Kind.PAGE, subtree)
    ContentVersion.bump()
    if instance.live:
        from cms.api.representation import Context

        instance.url_path = url_path_after
        webhooks.emit(
            webhooks.page_event(
                instance, "moved", old_url_path=Context().frontend_path(url_path_before)
            )
        )


def register_signal_handlers():
    from wagtail.documents import get_document_model
    from wagtail.images import get_image_model

    from cms.models import Organisation

    page_published.connect(page_published_handler, dispatch_uid="cms-api-published")
    page_unpublished.connect(page_unpublished_handler, dispatch_uid="cms-api-unpublished")
    post_page_move.connect(page_moved_handler, dispatch_uid="cms-api-moved")
    # The request → site answers (`cms.api.sites`): sites, and root pages' paths.
    post_page_move.connect(sites.forget, dispatch_uid="cms-api-sites-moved")
    post_save.connect(sites.forget, sender=Site, dispatch_uid="cms-api-sites-save")
    post_delete.connect(sites.forget, sender=Site, dispatch_uid="cms-api-sites-delete")
    pre_delete.connect(page_pre_delete_handler, dispatch_uid="cms-api-pre-delete")
    post_delete.connect(page_post_delete_handler, dispatch_uid="cms-api-post-delete")
    # What the representations embed, and what decides who may see a page or a file.
    handlers = {
        Organisation: organisation_changed,
        get_image_model(): image_changed,
        get_document_model(): document_changed,
        PageViewRestriction: restriction_changed,
        Collection: everything_changed,
        CollectionViewRestriction: everything_changed,
        Site: everything_changed,
    }
    for model, handler in handlers.items():
        uid = f"cms-api-{model._meta.label_lower}"
        post_save.connect(handler, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(handler, sender=model, dispatch_uid=f"{uid}-delete")
