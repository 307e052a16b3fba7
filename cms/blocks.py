"""StreamField blocks shared by the site's page types."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock
from wagtail.images.blocks import ImageChooserBlock

RICH_TEXT_FEATURES = ["bold", "italic", "link", "document-link", "ol", "ul", "h3", "h4"]


class CaptionedImageBlock(blocks.StructBlock):
    image = ImageChooserBlock()
    alt_text = blocks.CharBlock(
        required=False,
        help_text=_(
            "Describe the image for people who cannot see it; "
            "leave blank to use the image's own description."
        ),
    )
    caption = blocks.CharBlock(required=False)

    class Meta:
        icon = "image"
        template = "cms/blocks/captioned_image.html"
        description = _("An image with optional caption")


class QuoteBlock(blocks.StructBlock):
    quote = blocks.TextBlock()
    attribution = blocks.CharBlock(required=False)

    class Meta:
        icon = "openquote"
        template = "cms/blocks/quote.html"
        description = _("A highlighted quotation")
        preview_value = {
            "quote": "Gender equality can represent a driver of efficiency and innovation.",
            "attribution": "Massimiliano Rumignani",
        }


class DocumentBlock(blocks.StructBlock):
    document = DocumentChooserBlock()
    label = blocks.CharBlock(
        required=False, help_text=_("Button text, e.g. “Download the handbook”")
    )

    class Meta:
        icon = "doc-full"
        template = "cms/blocks/document.html"
        description = _("A downloadable document")


class BodyBlock(blocks.StreamBlock):
    """The body of good practices and events: prose, images, quotes, documents, embeds."""

    heading = blocks.CharBlock(
        form_classname="title",
        icon="title",
        template="cms/blocks/heading.html",
        description=_("A section heading"),
        preview_value="Why clusters matter",
    )
    paragraph = blocks.RichTextBlock(
        features=RICH_TEXT_FEATURES,
        icon="pilcrow",
        template="cms/blocks/paragraph.html",
        description=_("Formatted text"),
        preview_value="<p>Clusters connect SMEs, research and policy makers.</p>",
    )
    image = CaptionedImageBlock()
    quote = QuoteBlock()
    document = DocumentBlock()
    embed = EmbedBlock(
        icon="media",
        template="cms/blocks/embed.html",
        description=_("A video or other embeddable media, by URL"),
    )
