"""Cassettes: each suite test's HTTP interactions, recorded with vcrpy and replayed offline.

`pytest suites --record` writes one YAML file per suite test under
`cassettes/<dialect>/<module>/<test>.yaml` (through vcrpy); `pytest suites --replay`
runs the suites from those files with the network refused (every socket connect
refused), each request answered from an index of its test's cassette (`Player`), so CI
certifies the recorded behaviour without a provider or a credential. The fuzz tests
replay their recorded requests instead of generating them (`recorded_requests`), and
the state machine its recorded draws (`kept_draws`). `imagecert replay` (see `imagecert.replay`) sends the same requests to
another endpoint and reports where it answers differently.

What makes a cassette safe to commit and stable to re-record:

* Secrets never reach the file (`Redactor`, run on every request and response before
  vcrpy keeps it): authorization, token and signature headers and query parameters
  become `<redacted WHO>`, where WHO says whose credentials signed the request and
  whether they verified (`tenant-1`, `tenant-2-wrong-secret`, `no-credentials`, …);
  the control protocol's tenant answers keep their shape but carry placeholder
  credentials (`tenant-1-access-key`, …) that replay signs with; any learned access
  key, secret or token is replaced wherever else it shows up; body fields named like
  credentials are replaced.
* Volatile values are normalized when the cassette is saved (`normalize`): the
  endpoint's origin becomes a fixed one; ids an answer introduces (values of
  id-named fields, request-id headers, anything shaped like a UUID or long hex) are
  renumbered in order of first appearance, keeping their layout (`shaped`); dates and
  epoch times become one fixed moment in their own layout; signing dates, nonces and
  body digests are left out (a replay signs anew), and so are headers that only name
  the software. What the test chose itself is kept: its `uuid.uuid4()` names are
  repeatable in a cassette run (`deterministic_uuids`), and hypothesis generates
  from the test, its contract and its seed only (`imagecert.fuzz.run.draws_independent_of_local_code`).
  The reference provider is recorded with jobs that only end when settled
  (`RECORDING_JOB_SECONDS`). A re-recording of unchanged behaviour is byte-identical.
* Requests are matched (`MATCHERS`) on what identifies them — method, which
  endpoint (API or control), path, query and body with UUIDs, hex ids and dates
  masked, signature and nonce parameters left out, and whose credentials signed it —
  never on a signature, a date, a nonce or the host and port.
"""

from imagecert.cassettes.files import (
    API_ORIGIN,
    CONTROL_ORIGIN,
    FORMAT,
    LARGE_BODY_CHARS,
    TARGET_FILE,
    Interaction,
    read_cassette,
    write_cassette,
)
from imagecert.cassettes.isolation import NetworkRefused, network_refused
from imagecert.cassettes.matching import MATCHERS
from imagecert.cassettes.naming import cassette_path, default_directory, legacy_cassette_path, locate, suite_test_id
from imagecert.cassettes.normalizing import ID_FIELD, ID_SHAPED, STABLE_FIELD, Identifiers, mask, normalize
from imagecert.cassettes.player import NotRecorded, Player, kept_draws, recorded_requests
from imagecert.cassettes.plugin import RECORDING_JOB_SECONDS, CassettePlugin
from imagecert.cassettes.redaction import NONCE_HEADERS, VOLATILE_QUERY_PARAMS, VOLATILE_REQUEST_HEADERS, Redactor
from imagecert.cassettes.targets import replay_targets, write_target_description

__all__ = [
    "API_ORIGIN", "CONTROL_ORIGIN", "FORMAT", "LARGE_BODY_CHARS", "TARGET_FILE", "Interaction", "read_cassette",
    "write_cassette", "NetworkRefused", "network_refused", "MATCHERS", "cassette_path", "default_directory",
    "legacy_cassette_path", "locate",
    "suite_test_id", "ID_FIELD", "ID_SHAPED", "STABLE_FIELD", "Identifiers", "mask", "normalize",
    "NotRecorded", "Player", "kept_draws", "recorded_requests", "RECORDING_JOB_SECONDS", "CassettePlugin", "NONCE_HEADERS", "VOLATILE_QUERY_PARAMS", "VOLATILE_REQUEST_HEADERS", "Redactor",
    "replay_targets", "write_target_description",
]
