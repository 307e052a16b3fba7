"""Long HTML lines are folded where a newline means the same as a space.

One folder serves rendering and sending: these cases are where a naive one (break at
any space) would change what the reader sees or what Outlook reads.
"""

import pytest

from newsletters.rendering import MAX_LINE, fold_long_lines

MSO = "<!--[if mso | IE]>"


def test_long_text_is_folded_at_spaces_without_changing_words():
    html = "<p>" + " ".join(f"word{i}" for i in range(400)) + "</p>"
    folded = fold_long_lines(html)
    assert max(len(line) for line in folded.splitlines()) <= MAX_LINE
    assert folded.split() == html.split()


def test_quoted_values_and_conditional_comments_stay_whole():
    style = "font-family: Helvetica, Arial, sans-serif; " * 30
    comment = '<!--[if mso | IE]><table role="presentation" border="0"><![endif]-->'
    html = (comment + f'<td style="{style}">' + "text " * 200 + "</td>") * 3
    folded = fold_long_lines(html)
    assert f'style="{style}"' in folded
    assert folded.count(comment) == 3
    assert folded.replace("\n", " ") == html


@pytest.mark.parametrize("lead", [MAX_LINE - 60, MAX_LINE - 20, MAX_LINE - 5])
def test_a_long_quoted_attribute_is_not_broken_inside_its_quotes(lead):
    alt = "A portrait of the interviewee at her desk, with the project poster behind " * 3
    html = "x" * lead + f' <img alt="{alt.strip()}" src="https://cms.example.org/i.png"> after'
    folded = fold_long_lines(html)
    assert f'alt="{alt.strip()}"' in folded
    assert folded.replace("\n", " ") == html


@pytest.mark.parametrize("lead", range(MAX_LINE - 30, MAX_LINE + 1, 3))
def test_outlook_conditional_comments_are_not_broken_wherever_the_limit_falls(lead):
    words = ("word " * (lead // 5 + 1))[:lead]
    table = '<table role="presentation" border="0"><tr><td>'
    html = words + MSO + table + "<![endif]-->" + " tail text" * 40 + f"{MSO}</td><![endif]-->"
    folded = fold_long_lines(html)
    assert folded.count(MSO) == 2
    assert folded.count("<![endif]-->") == 2
    assert folded.replace("\n", " ") == html


def test_a_long_line_is_broken_at_a_space_outside_tags():
    cell = '<td class="x" style="padding: 0 10px; color: #333">'
    html = cell + "Readers said " * 100 + "</td>"
    folded = fold_long_lines(html)
    first, *rest = folded.splitlines()
    assert rest, "the line was not folded"
    assert first.startswith(cell)  # the break came after the tag, between words
    assert all(line.startswith("Readers") or line.startswith("said") for line in rest)
    assert folded.replace("\n", " ") == html


def test_every_line_ends_within_the_limit_when_a_safe_break_exists():
    block = '<a href="https://cms.example.org/a" style="color: #123">Read more</a> and then some '
    html = "<div>" + block * 60 + "</div>\n<p>" + "short " * 500 + "</p>"
    folded = fold_long_lines(html)
    assert max(len(line) for line in folded.splitlines()) <= MAX_LINE
    assert folded.split() == html.split()
