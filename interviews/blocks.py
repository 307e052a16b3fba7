"""Blocks of interview pages: the shared body blocks plus question/answer pairs."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from cms.blocks import RICH_TEXT_FEATURES, BodyBlock


class QuestionAnswerBlock(blocks.StructBlock):
    question = blocks.CharBlock()
    answer = blocks.RichTextBlock(features=RICH_TEXT_FEATURES)

    class Meta:
        icon = "help"
        template = "interviews/blocks/question_answer.html"
        description = _("One interview question and its answer")
        preview_value = {
            "question": "What motivates you to support gender equality?",
            "answer": "<p>Balanced teams find more creative solutions.</p>",
        }


class InterviewBodyBlock(BodyBlock):
    """An interview body adds question/answer pairs to the shared blocks."""

    question_answer = QuestionAnswerBlock()
