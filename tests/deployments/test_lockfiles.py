"""`make lock`'s closure of the project's requirements, over the installed distributions' metadata."""

from __future__ import annotations

from deployments.lockfiles import closure


def test_an_extra_asked_for_after_its_package_still_brings_its_dependencies() -> None:
    assert {"uvloop", "httptools"} <= closure(["uvicorn", "uvicorn[standard]"])
    assert {"uvloop", "httptools"} <= closure(["uvicorn[standard]", "uvicorn"])
    assert "uvloop" not in closure(["uvicorn"])


def test_prefect_s_httpx_extra_is_in_the_closure_though_httpx_came_first() -> None:
    # Prefect asks for `httpx[http2]`; packages met before it ask for plain `httpx`.
    assert "h2" in closure(["httpx", "prefect>=3.8.8,<3.9"])
    assert "h2" in closure(["prefect>=3.8.8,<3.9", "httpx"])
