"""`localbridge test-pattern`: every mode and exit code, on the real binary (no server)."""

import json
import subprocess

import pytest

from conftest import BIN, EC2, EC2_PATTERN as PATTERN



def run(*args, stdin=""):
    if not BIN.exists():
        pytest.fail(f"{BIN} not found: build it with `cargo build -p localbridge`")
    return subprocess.run(
        [str(BIN), "test-pattern", *args], input=stdin, capture_output=True, text=True, timeout=30
    )


def test_match_prints_true_exit_0():
    r = run("--pattern", json.dumps(PATTERN), "--event", json.dumps(EC2))
    assert (r.returncode, r.stdout, r.stderr) == (0, "true\n", "")


def test_no_match_prints_false_exit_1():
    event = dict(EC2, detail={"instance-id": "i-1", "state": "STOPPED"})
    r = run("--pattern", json.dumps(PATTERN), "--event", json.dumps(event))
    assert (r.returncode, r.stdout, r.stderr) == (1, "false\n", "")


def test_files_with_at(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps(PATTERN))
    (tmp_path / "e.json").write_text(json.dumps(EC2, indent=2))
    r = run("--pattern", f"@{tmp_path / 'p.json'}", "--event", f"@{tmp_path / 'e.json'}")
    assert (r.returncode, r.stdout) == (0, "true\n")


def test_invalid_pattern_exit_2_with_aws_message():
    r = run("--pattern", '{"source": "aws.ec2"}', "--event", json.dumps(EC2))
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("Event pattern is not valid. Reason: ")


def test_invalid_event_exit_2():
    r = run("--pattern", json.dumps(PATTERN), "--event", "{not json")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("invalid event JSON")


def test_missing_file_exit_2(tmp_path):
    r = run("--pattern", f"@{tmp_path / 'nope.json'}", "--event", "{}")
    assert r.returncode == 2
    assert r.stderr.startswith("cannot read ")


def test_bad_arguments_exit_2():
    r = run("--pattern", json.dumps(PATTERN))  # no mode
    assert r.returncode == 2
    assert "required" in r.stderr


def test_events_file_prints_matching_lines(tmp_path):
    other = dict(EC2, source="aws.s3")
    lines = [json.dumps(EC2), json.dumps(other), "", json.dumps(dict(EC2, id="2"), indent=None, separators=(",", ":"))]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = run("--pattern", json.dumps(PATTERN), "--events", str(path))
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == lines[0] + "\n" + lines[3] + "\n"


def test_events_stdin_no_match_exit_1():
    r = run("--pattern", json.dumps(PATTERN), "--events", "-", stdin=json.dumps(dict(EC2, source="x")) + "\n")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")


def test_events_bad_line_reported_and_exit_2():
    stdin = "garbage\n" + json.dumps(EC2) + "\n"
    r = run("--pattern", json.dumps(PATTERN), "--events", "-", stdin=stdin)
    assert r.returncode == 2
    assert r.stdout == json.dumps(EC2) + "\n"
    assert r.stderr.startswith("line 1: the event is not valid JSON")


def test_events_invalid_pattern_exit_2():
    r = run("--pattern", "[]", "--events", "-", stdin=json.dumps(EC2) + "\n")
    assert r.returncode == 2
    assert r.stderr.startswith("Event pattern is not valid. Reason: ")


def test_batch_answers_every_line_in_order():
    lines = [
        {"pattern": PATTERN, "event": EC2},
        {"pattern": json.dumps({"source": ["aws.s3"]}), "event": json.dumps(EC2)},
        {"pattern": {"source": "aws.ec2"}, "event": EC2},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    r = run("--batch", stdin=stdin)
    assert r.returncode == 0
    out = r.stdout.splitlines()
    assert len(out) == 4
    assert out[:2] == ["true", "false"]
    assert out[2].startswith("Event pattern is not valid. Reason: ")
    assert out[3].startswith("invalid input line: ")


def test_transform_prints_target_input():
    transform = {
        "InputPathsMap": {"instance": "$.detail.instance-id", "state": "$.detail.state"},
        "InputTemplate": '{"instance": <instance>, "state": "<state>", "rule": <aws.events.rule-name>}',
    }
    r = run("--pattern", json.dumps(PATTERN), "--event", json.dumps(EC2), "--transform", json.dumps(transform))
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == '{"instance":"i-0123456789","state":"RUNNING","rule":"test-pattern"}\n'


def test_transform_on_event_stream_and_no_match():
    transform = {"InputPathsMap": {"i": "$.detail.instance-id"}, "InputTemplate": '"instance <i>"'}
    stdin = json.dumps(EC2) + "\n" + json.dumps(dict(EC2, source="x")) + "\n"
    r = run("--pattern", json.dumps(PATTERN), "--events", "-", "--transform", json.dumps(transform), stdin=stdin)
    assert (r.returncode, r.stdout) == (0, '"instance i-0123456789"\n')
    r = run(
        "--pattern", json.dumps(PATTERN), "--event", json.dumps(dict(EC2, source="x")), "--transform", json.dumps(transform)
    )
    assert (r.returncode, r.stdout) == (1, "false\n")


def test_invalid_transform_exit_2():
    transform = {"InputPathsMap": {"bad.key": "$.a"}, "InputTemplate": '"x"'}
    r = run("--pattern", json.dumps(PATTERN), "--event", json.dumps(EC2), "--transform", json.dumps(transform))
    assert r.returncode == 2
    assert "failed to satisfy constraint" in r.stderr


def test_input_path():
    r = run("--pattern", json.dumps(PATTERN), "--event", json.dumps(EC2), "--input-path", "$.detail")
    assert (r.returncode, r.stdout) == (0, '{"instance-id":"i-0123456789","state":"RUNNING"}\n')
    r = run("--pattern", json.dumps(PATTERN), "--event", json.dumps(EC2), "--input-path", "$..x")
    assert r.returncode == 2


def test_names_joined_with_dots():
    # EventBridge joins nested names with `.`: `state.status` in a pattern is `state` then
    # `status`, and so in an event; the same in the reference (--event) and the compiled
    # machine (--events).
    dotted = {"detail": {"state.status": ["running"]}}
    nested = {"detail": {"state": {"status": ["running"]}}}
    nested_event = dict(EC2, detail={"state": {"status": "running"}})
    dotted_event = dict(EC2, detail={"state.status": "running"})
    stopped_event = dict(EC2, detail={"state.status": "stopped"})
    for pattern in (dotted, nested):
        for event in (nested_event, dotted_event):
            r = run("--pattern", json.dumps(pattern), "--event", json.dumps(event))
            assert (r.returncode, r.stdout, r.stderr) == (0, "true\n", "")
        r = run("--pattern", json.dumps(pattern), "--event", json.dumps(stopped_event))
        assert (r.returncode, r.stdout) == (1, "false\n")
        lines = [json.dumps(e) for e in (nested_event, stopped_event, dotted_event)]
        r = run("--pattern", json.dumps(pattern), "--events", "-", stdin="\n".join(lines) + "\n")
        assert (r.returncode, r.stderr) == (0, "")
        assert r.stdout == lines[0] + "\n" + lines[2] + "\n"


# --explain: why an event does not match (`<field>: <reason>`), exit codes unchanged.

S3_PATTERN = {"source": ["aws.s3"], "detail": {"object": {"key": [{"suffix": ".jpg"}]}}}


def s3_event(key):
    return dict(EC2, source="aws.s3", **{"detail-type": "Object Created"}, detail={"object": {"key": key}})


def test_explain_event_no_match_prints_false_and_reason():
    r = run("--pattern", json.dumps(S3_PATTERN), "--event", json.dumps(s3_event("cat.png")), "--explain")
    assert (r.returncode, r.stderr) == (1, "")
    assert r.stdout == 'false\ndetail.object.key: "cat.png" does not end with ".jpg"\n'


def test_explain_event_match_unchanged():
    r = run("--pattern", json.dumps(S3_PATTERN), "--event", json.dumps(s3_event("cat.jpg")), "--explain")
    assert (r.returncode, r.stdout, r.stderr) == (0, "true\n", "")


def test_explain_event_operators():
    cases = [
        (PATTERN, dict(EC2, source="aws.s3"), 'source: expected one of ["aws.ec2"]'),
        (PATTERN, dict(EC2, detail={}), "detail.state: absent, but the pattern requires a value"),
        ({"detail": {"n": [{"numeric": [">", 1000]}]}}, dict(EC2, detail={"n": 1000}), "detail.n: 1000 is not > 1000"),
        (
            {"detail": {"state": [{"exists": False}]}},
            EC2,
            'detail.state: present, but the pattern requires it to be absent ("exists": false)',
        ),
        (
            {"detail": {"items": {"id": [1], "ok": [True]}}},
            dict(EC2, detail={"items": [{"id": 1, "ok": False}, {"id": 2, "ok": True}]}),
            'detail.items: no element of the array matches together with the other fields under "detail.items"',
        ),
    ]
    for pattern, event, line in cases:
        r = run("--pattern", json.dumps(pattern), "--event", json.dumps(event), "--explain")
        assert (r.returncode, r.stdout, r.stderr) == (1, f"false\n{line}\n", ""), pattern


def test_explain_events_reports_non_matching_lines_on_stderr(tmp_path):
    lines = [
        json.dumps(s3_event("cat.png")),
        "",
        json.dumps(s3_event("cat.jpg")),
        json.dumps(EC2),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = run("--pattern", json.dumps(S3_PATTERN), "--events", str(path), "--explain")
    assert r.returncode == 0
    assert r.stdout == lines[2] + "\n"
    assert r.stderr == (
        'line 1: detail.object.key: "cat.png" does not end with ".jpg"\n'
        'line 4: source: expected one of ["aws.s3"]\n'
    )


def test_explain_events_no_match_and_bad_line_keep_exit_codes():
    r = run("--pattern", json.dumps(S3_PATTERN), "--events", "-", "--explain", stdin=json.dumps(EC2) + "\n")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", 'line 1: source: expected one of ["aws.s3"]\n')
    r = run("--pattern", json.dumps(S3_PATTERN), "--events", "-", "--explain", stdin="garbage\n")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("line 1: the event is not valid JSON")


def test_explain_not_with_batch():
    r = run("--batch", "--explain")
    assert r.returncode == 2
    assert "cannot be used with" in r.stderr
