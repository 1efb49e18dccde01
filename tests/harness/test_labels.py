"""Labels files (actor keys, bare dataset ids, CSV, a header) and matching them to actors."""

from pathlib import Path

import pytest

from stream.harness.labels import kind_of, read_labels, resolve

ACTORS = {
    "session:s1",
    "session:s2",
    "account:42",
    "ip:198.51.100.7",
    "session:dup",
    "account:dup",
    "session:v9",
}


def test_whitespace_and_csv_lines_with_a_header(tmp_path: Path) -> None:
    f = tmp_path / "labels.csv"
    f.write_text("session_id,label\ns1,human\ns2 , moderate_bot\n# a comment\n\n42\tadvanced_bot\n")
    assert read_labels(f) == {"s1": "human", "s2": "moderate_bot", "42": "advanced_bot"}
    f.write_text("id label\naccount:a human\n")
    assert read_labels(f) == {"account:a": "human"}


def test_a_header_only_on_the_first_line(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("account:a human\nid label\n")
    assert read_labels(f) == {"account:a": "human", "id": "label"}


def test_bad_lines_are_errors_naming_the_line(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("account:a human\naccount:b human extra\n")
    with pytest.raises(ValueError, match=r"labels.txt:2: expected 'id label'"):
        read_labels(f)
    f.write_text("a,human,x\n")
    with pytest.raises(ValueError, match=r":1: expected"):
        read_labels(f)
    f.write_text("a human\na bulk_scraper\n")
    with pytest.raises(ValueError, match=r"'human' at .*labels\.txt:1 and 'bulk_scraper' here"):
        read_labels(f)
    f.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no labels"):
        read_labels(f)


def test_yes_and_no_labels_are_read_by_their_column_name(tmp_path: Path) -> None:
    # a dataset's 0s and 1s used to be read as labels "0" and "1": both kinds of bot, so
    # a file of people and bots was all bots and no AUC could be had
    f = tmp_path / "labels.csv"
    f.write_text("session_id,is_bot\ns1,1\ns2,0\ns3,True\ns4,no\n")
    assert read_labels(f) == {"s1": "bot", "s2": "human", "s3": "bot", "s4": "human"}
    f.write_text("is_human id\n1 s1\n0 s2\n")
    assert read_labels(f) == {"s1": "human", "s2": "bot"}
    f.write_text("ip,bot\n198.51.100.7,1\n")  # a bare question, with the id column named
    assert read_labels(f) == {"198.51.100.7": "bot"}
    f.write_text("s1 1\ns2 0\n")
    with pytest.raises(ValueError, match=r":1: label '1' says yes or no, but to what\?"):
        read_labels(f)
    f.write_text("session_id,label\ns1,0\n")
    with pytest.raises(ValueError, match=r":2: label '0' says yes or no"):
        read_labels(f)
    f.write_text("a1 human\na2 bot\n")  # the bare words are labels, not a header
    assert read_labels(f) == {"a1": "human", "a2": "bot"}


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        # a header naming wider lines: its id and label columns are read
        (
            'user_agent,session_id,requests,label\n"Mozilla/5.0 (X11, Linux)",s1,12,human\n'
            "curl/8.0,s2,300,advanced_bot\n",
            {"s1": "human", "s2": "advanced_bot"},
        ),
        # (review of this stop) the label column by its name, not its place: a device
        # "type" before "label" was read as a kind of bot; a byte-order mark is no name
        ("\ufeffsession_id,type,label\ns1,mobile,human\n", {"s1": "human"}),
        ("session_id,kind,is_bot\ns1,mobile,0\n", {"s1": "human"}),
        # "account_id" was no id name: labels were keyed by the IP
        ("account_id,ip,label\n42,1.2.3.4,human\n", {"42": "human"}),
        ("sid,label\ns1,human\n", {"s1": "human"}),  # a label column named beyond doubt
        # first lines that are data, not headers (type, crawler: kinds of bot)
        ("a1 type\nb2 human\n", {"a1": "type", "b2": "human"}),
        ("id crawler\nb2 human\n", {"id": "crawler", "b2": "human"}),
    ],
)
def test_a_header_names_the_id_and_label_columns(
    tmp_path: Path, text: str, labels: dict[str, str]
) -> None:
    f = tmp_path / "labels.csv"
    f.write_text(text)
    assert read_labels(f) == labels


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("user_agent,session_id,label\ncurl/8.0,s2\n", r":2: expected a line like the header's"),
        ("session_id,is_human\ns1,2\n", r":2: label '2' under a yes/no column"),
    ],
)
def test_a_line_that_does_not_fit_its_header_is_an_error(
    tmp_path: Path, text: str, error: str
) -> None:
    f = tmp_path / "labels.csv"
    f.write_text(text)
    with pytest.raises(ValueError, match=error):
        read_labels(f)


def test_several_files_are_read_as_one(tmp_path: Path) -> None:
    # a dataset's annotations in two files (train, test), a person in both
    train, test = tmp_path / "train", tmp_path / "test"
    train.write_text("session_id label\nabc human\ndef moderate_bot\n")
    test.write_text("ghi human\nabc human\n")
    assert read_labels([train, test]) == {"abc": "human", "def": "moderate_bot", "ghi": "human"}
    test.write_text("def human\n")
    with pytest.raises(ValueError, match=r"'def' is labelled 'moderate_bot' at .*train:3 and"):
        read_labels([train, test])
    test.write_text("# nothing\n")
    assert read_labels([train, test]) == {"abc": "human", "def": "moderate_bot"}
    with pytest.raises(ValueError, match="no labels"):
        read_labels([test])


def test_resolution_exact_prefixed_suffixed_and_unmatched() -> None:
    given = {
        "account:42": "human",  # exact
        "s1": "human",  # bare -> session:s1
        "198.51.100.7": "bulk_scraper",  # bare -> ip:
        "v9_0": "advanced_bot",  # sub-session -> session:v9
        "v9_1": "advanced_bot",  # the same visitor, same label
        "gone": "human",  # nothing
        "gone_1": "human",  # base matches nothing either
        "dup": "human",  # session:dup and account:dup both exist
    }
    res = resolve(given, ACTORS)
    assert res.labels == {
        "account:42": "human",
        "session:s1": "human",
        "ip:198.51.100.7": "bulk_scraper",
        "session:v9": "advanced_bot",
    }
    assert (res.exact, res.prefixed, res.suffixed, res.resolved) == (1, 2, 2, 5)
    assert sorted(res.unmatched) == ["gone", "gone_1"]
    assert res.ambiguous == ["dup"]
    assert res.conflicting == []
    d = res.as_dict()
    assert d["given"] == 8 and d["unmatched"] == 2 and d["actors"] == 4
    text = res.summary()
    assert "2 matched no actor with events in the run: gone, gone_1" in text
    assert "1 ambiguous" in text
    assert "by label: advanced_bot 1 (bot), bulk_scraper 1 (bot), human 2 (person)" in text


def test_an_exact_sub_session_actor_wins_over_its_base() -> None:
    res = resolve({"v9_0": "human"}, {"v9_0", "session:v9"})
    assert res.labels == {"v9_0": "human"} and res.exact == 1


def test_sub_sessions_with_different_labels_conflict_and_are_left_out() -> None:
    res = resolve({"v9_0": "human", "v9_1": "bulk_scraper", "s1": "human"}, ACTORS)
    assert res.conflicting == ["session:v9"]
    assert res.labels == {"session:s1": "human"}
    assert "conflicting labels, left out" in res.summary()


def test_kinds() -> None:
    assert [kind_of(x) for x in ("human", "Human", "human_office", "allowlisted_x", "humans")] == [
        "person",
        "person",  # in any case (a dataset's "Human" was a kind of bot)
        "person",
        "allowlisted",
        "bot",  # only `human` and `human_*` are people: a dataset's `humans` is not
    ]
