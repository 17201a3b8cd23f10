"""Property-based fuzz of every operation in ``/openapi.json`` (schemathesis): no 5xx.

Schemathesis generates requests from the server's own OpenAPI schema (paths, query
parameters, JSON and multipart bodies) and sends them, with a valid API key, to a real
server on 127.0.0.1 whose store holds a small project. Path parameters are, half of the
time, replaced by ids that exist (the project, its resources, annotations, worklist and
dataset), so the fuzz reaches the handlers and not only the 404 branch. Each operation
gets ``MAX_EXAMPLES`` examples without shrinking, so the whole fuzz stays well under a
minute; a failure prints the request that broke the server. The checks are: no 5xx, and
every status code and response body is the one the schema documents. (Schemathesis' own
pytest plugin does not run on pytest 9, so its Python API drives Hypothesis directly.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from datamint.server.store import ProjectStore
from datamint.server.store.annotations import AnnotationFilter
from datamint.server.synthetic import generate_project
from datamint.testing.server import running_server

MEMBER = "fuzz@example.org"
MAX_EXAMPLES = 8
TIME_BUDGET_S = 60.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    store = ProjectStore(tmp_path_factory.mktemp("fuzz") / "store")
    project = generate_project(
        store, "fuzzed", resources=3, annotations_per_resource=2, members=(MEMBER,)
    )
    visibility = store.visibility(MEMBER)
    seqs = store.annotations.search_seqs(visibility, AnnotationFilter())
    annotations = [json.loads(text)["id"] for text in store.annotations.records_by_seq(seqs)]
    known = {
        "project_id": [project.project_id],
        "resource_id": project.resource_ids,
        "annotation_id": annotations,
        "worklist_id": [project.worklist_id],
        "dataset_id": [store.projects.get(project.project_id)["dataset_id"]],  # type: ignore[index]
    }
    key = store.create_user(MEMBER)
    with running_server(store.store_dir) as server:
        yield {"url": server.url, "key": key, "known": known}


def _with_known_ids(operation: Any, known: dict[str, list[str]]) -> Any:
    """Cases of ``operation`` whose path ids are, half of the time, ids that exist."""
    names = (
        [p.name for p in operation.path_parameters] if hasattr(operation, "path_parameters") else []
    )
    choices = {name: st.sampled_from(known[name]) for name in names if name in known}

    @st.composite
    def cases(draw: Any) -> Any:
        case = draw(operation.as_strategy())
        if choices and draw(st.booleans()):
            for name, ids in choices.items():
                case.path_parameters[name] = draw(ids)
        return case

    return cases()


def test_no_operation_answers_5xx_or_off_schema(fuzz_target: dict[str, Any]) -> None:
    """Fuzz every operation of the served schema (module docstring)."""
    schema = schemathesis.openapi.from_url(f"{fuzz_target['url']}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 35
    headers = {"apikey": fuzz_target["key"]}
    started = time.monotonic()
    for operation in operations:

        @given(case=_with_known_ids(operation, fuzz_target["known"]))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            case.validate_response(response, checks=CHECKS)

        fuzz()
    assert time.monotonic() - started < TIME_BUDGET_S
