"""The Dockerfile, read statically (no container engine here): stages, targets, user, what goes in."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass, field

import pytest
from k8s_manifests import GATEWAY_OVERLAYS, ROOT, find, pod_spec, render

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions; continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    assert not current, "Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line in lines:
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.IGNORECASE)
            assert m, f"cannot read FROM {rest!r}"
            stages.append(Stage(name=(m.group(2) or str(len(stages))).lower(), base=m.group(1)))
        elif stages:
            stages[-1].instructions.append((instruction, rest.strip()))
        else:
            assert instruction == "ARG", f"{instruction} before the first FROM"
    return stages


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    parsed = parse_dockerfile(DOCKERFILE.read_text())
    by_name = {s.name: s for s in parsed}
    assert len(by_name) == len(parsed), "stage names are unique"
    by_name["<last>"] = parsed[-1]
    return by_name


def chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    out = [stages[name]]
    while out[-1].base.lower() in stages:
        out.append(stages[out[-1].base.lower()])
    return out


def effective(stages: dict[str, Stage], name: str, instruction: str) -> str | None:
    for stage in chain(stages, name):
        values = stage.args(instruction)
        if values:
            return values[-1]
    return None


def test_parser_reads_stages_and_continuations():
    text = "ARG X=1\nFROM a AS one\n# c\nRUN x \\\n && y\nFROM one AS two\nUSER 5\n"
    parsed = parse_dockerfile(text)
    assert [(s.name, s.base) for s in parsed] == [("one", "a"), ("two", "one")]
    assert parsed[0].instructions == [("RUN", "x   && y")]


def test_two_targets_and_the_default_is_the_gateway(stages):
    assert {"builder", "gateway", "central"} <= set(stages)
    assert stages["<last>"].name == "gateway"  # `docker build .` makes the gateway


@pytest.mark.parametrize("target", ["gateway", "central"])
def test_images_run_as_the_non_root_user_of_the_manifests(stages, target):
    user = effective(stages, target, "USER")
    assert user is not None, f"{target}: no USER, the image would run as root"
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric uid lets runAsNonRoot verify it"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    manifests_uid = {
        pod_spec(find(render(o), "Deployment"))["securityContext"]["runAsUser"] for o in GATEWAY_OVERLAYS
    }
    manifests_uid.add(pod_spec(find(render("management"), "StatefulSet"))["securityContext"]["runAsUser"])
    assert manifests_uid == {int(uid)}
    # The user exists in the image (useradd in the runtime chain) with that uid.
    runs = " ".join(a for s in chain(stages, target) for a in s.args("RUN"))
    assert re.search(rf"useradd\b[^&]*--uid {uid}\b", runs)


@pytest.mark.parametrize("target", ["gateway", "central"])
def test_entrypoint_is_cobalt_trace_running_the_collector(stages, target):
    assert json.loads(effective(stages, target, "ENTRYPOINT")) == ["cobalt-trace"]
    cmd = json.loads(effective(stages, target, "CMD"))
    assert cmd[0] == "collector" and "--config=/etc/otel/config.yaml" in cmd


def _venv_stage(stages: dict[str, Stage], target: str) -> Stage:
    (copy,) = [a for a in stages[target].args("COPY") if a.startswith("--from=")]
    source = copy.split()[0].removeprefix("--from=").lower()
    assert copy.split()[1:] == ["/opt/cobalt-trace", "/opt/cobalt-trace"]
    return stages[source]


def test_gateway_image_has_no_store_extra_and_central_has_it(stages):
    gateway_install = " ".join(_venv_stage(stages, "gateway").args("RUN"))
    central_install = " ".join(_venv_stage(stages, "central").args("RUN"))
    assert "[store]" not in gateway_install and "chdb" not in gateway_install
    assert "[store]" in central_install
    for install in (gateway_install, central_install):
        # The native span scanner must have been built (setup.py marks it optional).
        assert "import cobalt_trace.wire._scan" in install
    store_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "store" in store_extra


def test_compiler_only_in_the_build_stages(stages):
    assert "gcc" in " ".join(stages["builder"].args("RUN"))
    for target in ("gateway", "central"):
        for stage in chain(stages, target):
            if stage.name in ("gateway", "central", "runtime"):
                assert "gcc" not in " ".join(stage.args("RUN")), stage.name
        # The runtime chain starts from the plain Python image, not from the builder.
        assert "builder" not in [s.name for s in chain(stages, target)]


def _dockerignore_allows(path: str) -> bool:
    allowed = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negate
    return allowed


def test_build_context_holds_what_the_wheel_needs_and_nothing_else(stages):
    copied = []
    for stage in stages.values():
        for arg in stage.args("COPY"):
            if not arg.startswith("--from="):
                copied += [p.rstrip("/").removeprefix("./") for p in arg.split()[:-1]]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", "setup.py", pyproject["project"]["readme"], "src"}
    assert needed <= set(copied)
    for path in copied:
        assert _dockerignore_allows(path), f"{path} is copied but excluded by .dockerignore"
        assert (ROOT / path).exists(), path
    for path in (".venv/bin/python", "tests/conftest.py", ".git/HEAD", "src/cobalt_trace/wire/_scan.so"):
        assert not _dockerignore_allows(path), f"{path} would be sent to the build"
