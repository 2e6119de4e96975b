"""runtime/surface.py: symbols, enclosing quotes and brackets, currency signs and am/pm
times, which the model never read, taken off or spelled out and put back."""

import pytest

from s2s_batch.runtime.surface import Edges, peel, spell_out
from s2s_batch.runtime.translator import Translator


@pytest.mark.parametrize("text, core, edges", [
    ("Hello! 😀", "Hello!", Edges(trail=" 😀")),
    ("😀 Hello!", "Hello!", Edges(lead="😀 ")),
    ("I love you ❤️", "I love you", Edges(trail=" ❤️")),
    ("Great job 👍👍", "Great job", Edges(trail=" 👍👍")),
    ("Hello :)", "Hello", Edges(trail=" :)")),
    (":-( I lost.", "I lost.", Edges(lead=":-( ")),
    ('"I\'m tired."', "I'm tired.", Edges(opening='"', closing='"')),
    ("(This is important.) 👍", "This is important.", Edges(trail=" 👍", opening="(", closing=")")),
    ("😀", "", Edges(lead="😀")),  # symbols only: nothing for the model
    # left as they are
    ("This is important (really).", "This is important (really).", Edges()),
    ('"A" and "B"', '"A" and "B"', Edges()),  # the quotes do not hold all of it
    ("I am tired.  ", "I am tired.  ", Edges()),
    ("It is 20°", "It is 20°", Edges()),
    ("Smile:)", "Smile:)", Edges()),  # an emoticon glued to a word is not taken off
])
def test_peel(text, core, edges):
    assert peel(text) == (core, edges)


def test_what_was_taken_off_is_put_back_quotes_as_french_writes_them():
    assert Edges(trail=" 😀").around("Salut !") == "Salut ! 😀"
    assert Edges(lead="😀 ", opening='"', closing='"').around("Je suis fatigué.") == "😀 « Je suis fatigué. »"
    assert Edges(opening="(", closing=")").around("C'est important.") == "(C'est important.)"


@pytest.mark.parametrize("text, spelled", [
    ("It costs $5.", "It costs 5 dollars."),
    ("It costs $1 or 20€ or £3.50.", "It costs 1 dollar or 20 euros or 3.50 pounds."),
    ("It costs $1,250.", "It costs 1,250 dollars."),
    ("Let's meet at 3pm.", "Let's meet at 15:00."),
    ("Let's meet at 3:30 p.m.", "Let's meet at 15:30."),
    ("AT 10AM OR 12 AM.", "AT 10:00 OR 0:00."),
    ("I have 3 pieces at 9.", "I have 3 pieces at 9."),  # no sign, no am/pm: as written
    ("Room 13pm is no time.", "Room 13pm is no time."),  # 13pm is no clock time
])
def test_spell_out(text, spelled):
    assert spell_out(text) == spelled


def test_the_default_bundle_puts_symbols_quotes_and_brackets_back_and_reads_signs_and_times():
    lines = ["Hello! 😀", "😀", '"I\'m tired."', "(This is important.)", "It costs $5.", "Let's meet at 3pm."]
    out = Translator(threads=1).translate_lines(lines)
    assert out[0].endswith(" 😀") and "😀" not in out[0][:-2]
    assert out[1] == "😀"  # a line of symbols comes back as it is
    assert out[2].startswith("« ") and out[2].endswith(" »")
    assert out[3].startswith("(") and out[3].endswith(")") and out[3].count(".") == 1
    assert "5 dollars" in out[4]
    assert "15 h 00" in out[5]
