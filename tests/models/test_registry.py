import pytest

from models import REGISTRY, ModelSpec
from models.registry import InvalidParams, ModelEntry, Registry, UnknownModel


def test_spec_merges_defaults_and_checks_types() -> None:
    spec = REGISTRY.get("hst").spec({"n_trees": 10})
    assert spec.params["n_trees"] == 10 and spec.params["height"] == 8
    assert spec.label() == "hst@2"
    assert ModelSpec.from_dict(spec.as_dict()) == spec


@pytest.mark.parametrize(
    "params",
    [{"n_tress": 3}, {"n_trees": "3"}, {"n_trees": 2.5}, {"n_trees": True}, {"height": None}],
)
def test_invalid_params_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(InvalidParams):
        REGISTRY.get("hst").spec(params)


def test_unknown_model_and_wrong_version() -> None:
    with pytest.raises(UnknownModel, match="known: "):
        REGISTRY.get("nope")
    with pytest.raises(UnknownModel, match="version"):
        REGISTRY.build(ModelSpec("hst", "999", {}))


def test_duplicate_names_are_refused() -> None:
    reg = Registry()
    entry = ModelEntry("x", "1", lambda: None, {})  # type: ignore[arg-type, return-value]
    reg.register(entry)
    with pytest.raises(ValueError, match="already registered"):
        reg.register(ModelEntry("x", "2", lambda: None, {}))  # type: ignore[arg-type, return-value]
