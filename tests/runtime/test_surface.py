"""runtime/surface.py: symbols, enclosing quotes and brackets, currency signs and am/pm
times, which the model never read, taken off or spelled out and put back."""

import pytest

from s2s_batch.runtime.surface import Edges, peel, spell_out
from s2s_batch.runtime.translator import Translator


@pytest.mark.parametrize("text, core, edges", [
    ("Hello! 😀", "Hello!", Edges(after=" 😀")),
    ("😀 Hello!", "Hello!", Edges(before="😀 ")),
    ("I love you ❤️", "I love you", Edges(after=" ❤️")),
    ("Great job 👍👍", "Great job", Edges(after=" 👍👍")),
    ("Hello :)", "Hello", Edges(after=" :)")),
    (":-( I lost.", "I lost.", Edges(before=":-( ")),
    ("Look ☺︎", "Look", Edges(after=" ☺︎")),  # with the text variation selector
    ('"I\'m tired."', "I'm tired.", Edges("« ", " »")),  # double quotes go back as French writes them
    ("(This is important.) 👍", "This is important.", Edges("(", ") 👍")),
    ('"Hi! 😀"', "Hi!", Edges("« ", " 😀 »")),  # symbols inside the pair too
    ("😀", "", Edges(before="😀")),  # symbols only: nothing for the model
    (' "😀" ', "", Edges(before='"😀"')),
    # left as they are
    ("This is important (really).", "This is important (really).", Edges()),
    ('"A" and "B"', '"A" and "B"', Edges()),  # the quotes do not hold all of it
    ("I am tired.  ", "I am tired.  ", Edges()),
    ("It is 20°", "It is 20°", Edges()),
    ("Smile:)", "Smile:)", Edges()),  # an emoticon glued to a word is not taken off
    ("My grandfather is 83", "My grandfather is 83", Edges()),  # 8 is no emoticon's eyes
    ("I scored 8/10 :D", "I scored 8/10", Edges(after=" :D")),
])
def test_peel(text, core, edges):
    assert peel(text) == (core, edges)


def test_what_was_taken_off_is_put_back():
    assert Edges(after=" 😀").around("Salut !") == "Salut ! 😀"
    assert Edges("😀 « ", " »").around("Je suis fatigué.") == "😀 « Je suis fatigué. »"


@pytest.mark.parametrize("text, spelled", [
    ("It costs $5.", "It costs 5 dollars."),
    ("It costs $1 or 20€ or £3.50.", "It costs 1 dollar or 20 euros or 3.50 pounds."),
    ("It costs $1,250.", "It costs 1,250 dollars."),
    ("Let's meet at 3pm.", "Let's meet at 15:00."),
    ("Let's meet at 3:30 p.m.", "Let's meet at 15:30."),
    ("AT 10AM OR 12 AM.", "AT 10:00 OR 0:00."),
    ("I have 3 pieces at 9.", "I have 3 pieces at 9."),  # no sign, no am/pm: as written
    ("Room 13pm is no time.", "Room 13pm is no time."),  # 13pm is no clock time
    ("It costs $5 million.", "It costs 5 million dollars."),
    ("It costs $5,00 or $5.5.5.", "It costs $5,00 or $5.5.5."),  # no amount as English writes one
    ("We meet at 3 a.m. ", "We meet at 3:00. "),
])
def test_spell_out(text, spelled):
    assert spell_out(text) == spelled


def test_signs_and_times_are_read_after_the_case_is_undone_and_never_inside_a_held_span():
    source = Translator(threads=1).source_text
    assert source.prepare("IT COSTS $5.").text == "It costs 5 dollars." and source.prepare("IT COSTS $5.").upper
    assert source.prepare("See https://x.org/$5 at 3pm.").text.endswith("at 15:00.")
    prepared = source.prepare("See https://x.org/$5 at 3pm.")
    assert prepared.restore(prepared.text.replace("See", "Voir")).startswith("Voir https://x.org/$5 ")
    assert source.prepare('"I am tired."', edges=False).text == '"I am tired."'


def test_a_line_of_symbols_answers_as_many_hypotheses_as_asked_and_a_prefix_keeps_its_place():
    translator = Translator(threads=1)
    result = translator.translate_batch(["😀"], beam_size=3, num_hypotheses=3, return_scores=True)[0]
    assert result.hypotheses == ["😀"] * 3 and result.scores == [0.0] * 3
    assert translator.translate_batch(["😀"])[0].scores == []  # no scores unless asked for
    joined = translator.translate_batch(["Hello. 😀"], beam_size=3, num_hypotheses=3)[0]
    assert len(joined.hypotheses) == 3
    prefixed = translator.translate_batch(['"I am tired."'], target_prefix=[["▁Je"]])[0]
    assert prefixed.tokens[0][0] == "▁Je" and prefixed.hypotheses[0].startswith("Je")


def test_the_default_bundle_puts_symbols_quotes_and_brackets_back_and_reads_signs_and_times():
    lines = ["Hello! 😀", "😀", '"I\'m tired."', "(This is important.)", "It costs $5.", "Let's meet at 3pm."]
    out = Translator(threads=1).translate_lines(lines)
    assert out[0].endswith(" 😀") and "😀" not in out[0][:-2]
    assert out[1] == "😀"  # a line of symbols comes back as it is
    assert out[2].startswith("« ") and out[2].endswith(" »")
    assert out[3].startswith("(") and out[3].endswith(")") and out[3].count(".") == 1
    assert "5 dollars" in out[4]
    assert "15 h 00" in out[5]
