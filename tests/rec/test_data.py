from __future__ import annotations

import gzip
import itertools
import json

import numpy as np
import pytest
import torch

from optuna_vmle.rec import leave_one_out
from optuna_vmle.rec import load_amazon_reviews
from optuna_vmle.rec import load_sequences
from optuna_vmle.rec import make_synthetic_dataset
from optuna_vmle.rec import MissingDataFileError
from optuna_vmle.rec import RecDataError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_items_lines_are_read_in_order(tmp_path):
    path = write(tmp_path, "seq.txt", "1 3 1 2\n2 2 3 4 5\n")
    dataset = load_sequences(path)
    assert [s.tolist() for s in dataset.sequences] == [[3, 1, 2], [2, 3, 4, 5]]
    assert dataset.n_items == 5
    assert dataset.name == "seq"
    assert dataset.user_ids.tolist() == [1, 2]


def test_user_item_lines_are_grouped_by_user(tmp_path):
    path = write(tmp_path, "pairs.txt", "1 3\n1 1\n1 2\n2 4\n2 5\n2 1\n")
    dataset = load_sequences(path)
    assert [s.tolist() for s in dataset.sequences] == [[3, 1, 2], [4, 5, 1]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 3\n1 1\n2 4\n", "user_item"),
        ("1 3 1\n2 4\n", "user_items"),
        ("1 3\n2 4\n", "user_items"),
    ],
)
def test_auto_detection_matches_the_explicit_format(tmp_path, text, expected):
    path = write(tmp_path, "data.txt", text)
    auto = load_sequences(path)
    explicit = load_sequences(path, line_format=expected)
    assert [s.tolist() for s in auto.sequences] == [s.tolist() for s in explicit.sequences]


def test_missing_file_is_a_value_error_naming_the_file(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(MissingDataFileError, match="nope.txt") as info:
        load_sequences(missing)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)
    with pytest.raises(MissingDataFileError):
        load_amazon_reviews(missing)


@pytest.mark.parametrize(
    ("text", "line_format", "line", "message"),
    [
        ("1 2 3\n2 x 4\n", "user_items", 2, "non-integer id 'x'"),
        ("1 2 3\n\n7\n", "user_items", 3, "expected 'user item1"),
        ("1 2\n1 2 3\n", "user_item", 2, "expected 'user item'"),
        ("1 2\n2 3\n1 4\n", "user_item", 3, "not contiguous"),
        ("1 2 3\n1 4 5\n", "user_items", 2, "more than one line"),
        ("1 0 3\n", "user_items", 1, "positive"),
    ],
)
def test_malformed_lines_report_file_and_line(tmp_path, text, line_format, line, message):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(RecDataError, match=message) as info:
        load_sequences(path, line_format=line_format)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize("text", ["", "\n  \n\n"])
def test_an_empty_file_fails_at_load_time_naming_the_file(tmp_path, text):
    path = write(tmp_path, "empty.txt", text)
    with pytest.raises(RecDataError, match="empty.txt.*no sequences") as info:
        load_sequences(path)
    assert info.value.path == str(path)
    reviews = write(tmp_path, "reviews.json", text)
    with pytest.raises(RecDataError, match="reviews.json.*no reviews"):
        load_amazon_reviews(reviews)


def test_a_binary_file_is_a_data_error_naming_the_file(tmp_path):
    path = tmp_path / "Beauty.txt"
    path.write_bytes(b"1 2 3\n" + bytes(range(128, 256)))
    with pytest.raises(RecDataError, match="Beauty.txt: not a UTF-8 text file") as info:
        load_sequences(path)
    assert info.value.path == str(path)
    for name in ("reviews.json", "reviews.csv"):
        raw = tmp_path / name
        raw.write_bytes(bytes(range(128, 256)))
        with pytest.raises(RecDataError, match=f"{name}: not a UTF-8 text file"):
            load_amazon_reviews(raw)


def test_a_gz_file_that_is_not_gzip_is_a_data_error(tmp_path):
    path = write(tmp_path, "reviews_Beauty_5.json.gz", '{"reviewerID": "u"}\n')
    with pytest.raises(RecDataError, match="reviews_Beauty_5.json.gz: not a complete gzip file"):
        load_amazon_reviews(path)


def test_nothing_left_after_the_k_core_filter_is_a_data_error(tmp_path):
    path = write(tmp_path, "r.csv", "".join(f"u{u},i{u},{u}\n" for u in range(10)))
    with pytest.raises(RecDataError, match="5-core"):
        load_amazon_reviews(path)


def test_users_too_short_to_train_on_fail_before_training(tmp_path):
    from optuna_vmle.rec import fit
    from optuna_vmle.rec import SASRec
    from optuna_vmle.rec import TrainingConfig

    split = leave_one_out(load_sequences(write(tmp_path, "short.txt", "1 1 2 3\n2 2 3 4\n")))
    model = SASRec(n_items=4, maxlen=5, hidden_size=8, num_blocks=1)
    with pytest.raises(RecDataError, match="short.txt: no user of 'short' has two training items"):
        fit(model, split, TrainingConfig(max_epochs=1), device=torch.device("cpu"))


def test_leave_one_out_holds_out_the_last_two_items(tmp_path):
    dataset = load_sequences(write(tmp_path, "seq.txt", "1 5 6 7 8\n2 1 2 3\n"))
    split = leave_one_out(dataset)
    assert [t.tolist() for t in split.train] == [[5, 6], [1]]
    assert split.valid_targets.tolist() == [7, 2]
    assert split.test_targets.tolist() == [8, 3]


def test_short_users_raise_with_their_line_or_are_dropped(tmp_path):
    path = write(tmp_path, "seq.txt", "1 5 6 7\n\n2 1 2\n3 4 5 6\n")
    dataset = load_sequences(path)
    with pytest.raises(RecDataError, match="user 2 has 2 interactions") as info:
        leave_one_out(dataset)
    assert info.value.line == 3
    split = leave_one_out(dataset, drop_short_users=True)
    assert split.n_users == 2
    assert split.test_targets.tolist() == [7, 6]


def test_descriptors_summarise_the_dataset(tmp_path):
    dataset = load_sequences(write(tmp_path, "seq.txt", "1 1 2 3\n2 2 3 4 5 6\n3 1 4 6 2\n"))
    descriptors = dataset.descriptors
    assert descriptors.as_dict() == {
        "name": "seq",
        "n_users": 3,
        "n_items": 6,
        "n_interactions": 12,
        "mean_length": 4.0,
        "median_length": 4.0,
        "density": pytest.approx(12 / 18),
    }
    assert dataset.descriptors is descriptors


def test_amazon_json_reviews_are_five_core_filtered_sorted_and_reindexed(tmp_path):
    reviews = []
    # Users u0..u4 review items a..e at increasing times, but u0 reviews in reverse time order.
    for u in range(5):
        for position, item in enumerate("abcde"):
            time = 100 - position if u == 0 else position
            reviews.append({"reviewerID": f"u{u}", "asin": item, "unixReviewTime": time})
    # u5 has only 4 reviews: dropped; then item "f" (reviewed only by u5 and u0) falls below 5.
    reviews += [{"reviewerID": "u5", "asin": i, "unixReviewTime": 1} for i in "abcf"]
    reviews.append({"reviewerID": "u0", "asin": "f", "unixReviewTime": 0})
    reviews.append({"reviewerID": "u1", "asin": "a", "unixReviewTime": 50})  # a repeat: first kept
    path = tmp_path / "reviews_Test_5.json.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in reviews) + "\n")
    dataset = load_amazon_reviews(path)
    assert dataset.n_items == 5
    assert len(dataset.sequences) == 5
    # u0 saw e first (time 96) and a last; ids follow order of first appearance.
    assert dataset.sequences[0].tolist() == [1, 2, 3, 4, 5]
    assert dataset.sequences[1].tolist() == [5, 4, 3, 2, 1]
    assert dataset.name == "reviews_Test_5"


def test_amazon_csv_with_and_without_header(tmp_path):
    rows = [(f"u{u}", f"i{i}", 10 * i) for u in range(5) for i in range(5)]
    headed = write(
        tmp_path, "a.csv", "user,item,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in rows)
    )
    bare = write(tmp_path, "b.csv", "".join(f"{u},{i},5.0,{t}\n" for u, i, t in rows))
    for path in (headed, bare):
        dataset = load_amazon_reviews(path)
        assert [s.tolist() for s in dataset.sequences] == [[1, 2, 3, 4, 5]] * 5


def test_amazon_malformed_line_reports_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "r.json",
        '{"reviewerID": "u", "asin": "a", "unixReviewTime": 1}\n{"reviewerID": "u"}\n',
    )
    with pytest.raises(RecDataError, match="unixReviewTime") as info:
        load_amazon_reviews(path)
    assert info.value.line == 2


def test_synthetic_dataset_is_deterministic_and_valid():
    first = make_synthetic_dataset(n_users=50, n_items=40, seed=3)
    again = make_synthetic_dataset(n_users=50, n_items=40, seed=3)
    other = make_synthetic_dataset(n_users=50, n_items=40, seed=4)
    assert [s.tolist() for s in first.sequences] == [s.tolist() for s in again.sequences]
    assert [s.tolist() for s in first.sequences] != [s.tolist() for s in other.sequences]
    for sequence in first.sequences:
        assert 5 <= len(sequence) <= 20
        assert len(set(sequence.tolist())) == len(sequence)
        assert sequence.min() >= 1 and sequence.max() <= 40
    leave_one_out(first)


def test_synthetic_sequences_mostly_follow_their_chains():
    dataset = make_synthetic_dataset(n_users=200, n_items=100, follow_probability=0.9, seed=0)
    transitions = {}
    for sequence in dataset.sequences:
        for current, following in itertools.pairwise(sequence):
            transitions.setdefault(int(current), []).append(int(following))
    # The most frequent successor of an item accounts for most of its transitions.
    shares = [
        max(np.bincount(nexts)) / len(nexts) for nexts in transitions.values() if len(nexts) >= 5
    ]
    assert np.mean(shares) > 0.7


def test_training_batches_cover_every_user_once_and_buckets_group_similar_lengths():
    from optuna_vmle.rec import training_windows

    dataset = make_synthetic_dataset(n_users=300, n_items=60, min_length=3, max_length=40, seed=0)
    windows = training_windows(leave_one_out(dataset), 50)
    generator = torch.Generator().manual_seed(0)
    padding = {}
    for bucketed in (False, True):
        batches = windows.epoch_batches(32, generator=generator, bucketed=bucketed)
        assert sorted(torch.cat(batches).tolist()) == list(range(len(windows)))
        padding[bucketed] = sum(int(windows.batch(rows)[0].eq(0).sum()) for rows in batches)
    assert padding[True] < padding[False] / 4
