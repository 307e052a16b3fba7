"""Long HTML lines are folded where a newline means the same as a space."""

from newsletters.rendering import MAX_LINE, fold_long_lines


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
