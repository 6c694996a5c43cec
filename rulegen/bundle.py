"""Pure: model -> every generated file (relative path -> text), checked before any write."""

from __future__ import annotations

from rulegen import naming, outputs, rules, tests_gen, yamlout
from rulegen.errors import SpecError
from rulegen.model import Model


def render(model: Model) -> dict[str, str]:
    groups = yamlout.Rendered([g.as_dict() for g in rules.groups(model)])
    files = {
        naming.rules_file(model.name): yamlout.dump({"groups": groups}, naming.HEADER),
        naming.tests_file(model.name): yamlout.dump_tests(*tests_gen.suite(model), naming.HEADER),
    }
    # Dashboards and Kubernetes objects. The lint also parses every generated rule
    # expression; its findings are spec errors (exit 2), so nothing is written.
    extra = outputs.render(model, groups)
    if extra.problems:
        raise SpecError(model.file, outputs.issues(model, extra.problems))
    files.update(extra.files)
    return files
