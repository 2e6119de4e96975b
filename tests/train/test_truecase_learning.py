"""Learning the truecasing table from the training targets."""

from __future__ import annotations

from s2s_batch.train.learned_tables import learn_source_casing, learn_truecasing


def test_learns_the_usual_form_away_from_the_sentence_start():
    recaser = learn_truecasing(["Tom est à Paris.", "Je vois Tom.", "Le chat dort.",
                                "Il aime le chat.", "Il est OK.", "Je suis ok.", "Je suis OK !"])
    assert recaser.table == {"tom": "Tom", "paris": "Paris", "ok": "OK"}  # "le": mostly lowercase


def test_a_tie_keeps_the_lowercase_form():
    assert learn_truecasing(["Il dit Oui.", "Il dit oui."]).table == {}


def test_source_casing_keeps_every_word_in_its_usual_form():
    table = learn_source_casing(["Tom is in Paris.", "I saw Tom.", "The cat sleeps.", "He likes the cat.",
                                 "Hello there.", "It's OK.", "I'm ok, I'm OK!"])
    assert table["tom"] == "Tom" and table["paris"] == "Paris" and table["ok"] == "OK"
    assert table["i"] == "I" and table["the"] == "the" and table["s"] == "s"
    assert table["hello"] == "hello"  # seen only first: taken as lowercase
