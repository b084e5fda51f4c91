"""Property-based calls over the OpenAPI schema (schemathesis's strategies, driven by
hypothesis): whatever the inputs, with no key, a team's or the organiser's, the API never
answers with a 5xx. Time parameters are also drawn in every form a person writes: with a
zone, without one, with a space, a date alone (app/web/times.py)."""

from __future__ import annotations

import itertools
from datetime import date, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config.settings import ArenaSettings
from app.web import create_app
from app.web.keys import ORGANISER

EXAMPLES = 15  # per operation, path and caller
NEAR = st.datetimes(datetime(2026, 3, 11), datetime(2026, 3, 14))  # the fixture's bars
TIMES = {
    "zone": st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
    "utc-z": NEAR.map(lambda t: t.isoformat() + "Z"),
    "no zone": st.one_of(st.datetimes(), NEAR).map(datetime.isoformat),
    "space": NEAR.map(lambda t: t.isoformat(sep=" ", timespec="minutes")),
    "date": st.one_of(st.dates(), st.dates(date(2026, 3, 11), date(2026, 3, 14))).map(str),
}
TIME_PARAMETERS = ("start", "end")
FORMS = sorted(TIMES)


def time_queries(case, data, sent: set[str]) -> list[dict]:
    """The case's query as drawn and, where it has time parameters, one query per pair of
    forms (start in each form, end in the same or the next): every form on every run."""
    query = dict(case.query or {})
    names = [n for n in TIME_PARAMETERS if n in query]
    queries = [query]
    for i, first in enumerate(FORMS if names else ()):
        for second in (first, FORMS[(i + 1) % len(FORMS)]):
            forms = dict(zip(names, (first, second), strict=False))  # start, end
            queries.append({**query, **{n: data.draw(TIMES[f]) for n, f in forms.items()}})
            sent.update(forms.values())
    return queries


@pytest.fixture(scope="module")
def fuzzed_app(arena_dir):
    registry, data = arena_dir
    app = create_app(ArenaSettings(registry=registry, data_dir=data, uploads_per_minute=10_000))
    yield app
    app.state.uploads.close()


def test_no_input_makes_the_api_fail(fuzzed_app, keys):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # every route of the API is in the schema
    failures: list[tuple] = []
    sent: set[str] = set()  # the forms of a time that were sent
    for operation in operations:

        @given(case=operation.as_strategy(), data=st.data())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def call(case, data):
            queries = time_queries(case, data, sent)
            paths = [dict(case.path_parameters or {})]
            if "team_id" in paths[0]:  # random ids stop at the door: also try a real team
                paths.append({**paths[0], "team_id": "alpha"})
            if "symbol" in paths[0]:
                paths.append({**paths[0], "symbol": "AAA"})
            for query, path in itertools.product(queries, paths):
                case.query, case.path_parameters = query or case.query, path
                for who in (None, "alpha", ORGANISER):  # refused, a team, the organiser
                    headers = {"X-API-Key": keys[who]} if who else {}
                    response = case.call(headers=headers)
                    if response.status_code >= 500:
                        failures.append((who, case.method, case.formatted_path,
                                         response.text[:300]))  # fmt: skip

        call()
    assert failures == []
    assert sent == set(TIMES)  # every form of a time was sent
