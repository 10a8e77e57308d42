import pytest

from benchmark.specs import Spec, is_import_path, parse_method_spec, parse_user_spec


@pytest.mark.parametrize("spec, parsed", [
    ("manual-paint", Spec("manual-paint")),
    ("editor=checkpoints/G.pt", Spec("editor", arg="checkpoints/G.pt")),
    ("base=C:\\models\\F=1.pt", Spec("base", arg="C:\\models\\F=1.pt")),  # everything after the first '='
    ("manual-paint[click_radius_mm=3]", Spec("manual-paint", {"click_radius_mm": 3})),
    ("cvpr25[timeout_s=12.5,modality=t1ce]=docker run -v {inputs}:/workspace/inputs team:latest",
     Spec("cvpr25", {"timeout_s": 12.5, "modality": "t1ce"}, "docker run -v {inputs}:/workspace/inputs team:latest")),
    ("mylab.editing:MyMethod=ckpt.pt", Spec("mylab.editing:MyMethod", arg="ckpt.pt")),
    ("mylab.editing:MyMethod[threshold=0.3]=ckpt.pt", Spec("mylab.editing:MyMethod", {"threshold": 0.3}, "ckpt.pt")),
])
def test_method_specs(spec, parsed):
    assert parse_method_spec(spec) == parsed


@pytest.mark.parametrize("spec, parsed", [
    ("multi", Spec("multi")),
    ("multi:target_dice=0.95,max_edits_per_round=2", Spec("multi", {"target_dice": 0.95, "max_edits_per_round": 2})),
    ("selection:max_clicks=null", Spec("selection", {"max_clicks": None})),
    ("mylab.users:Sloppy", Spec("mylab.users:Sloppy")),
    ("mylab.users:Sloppy:jitter=2,style=wide", Spec("mylab.users:Sloppy", {"jitter": 2, "style": "wide"})),
    ("users:Sloppy", Spec("users:Sloppy")),  # a module without dots
])
def test_user_specs(spec, parsed):
    assert parse_user_spec(spec) == parsed


@pytest.mark.parametrize("parse, spec, message", [
    (parse_user_spec, "multi:0.9", "expected NAME:KEY=VALUE"),
    (parse_user_spec, "multi:a=1,a=2", "option 'a' is given twice"),
    (parse_user_spec, "", "expected NAME"),
    (parse_method_spec, "editor[x=1", "expected NAME, NAME=ARG or NAME\\[KEY=VALUE,...\\]=ARG"),
    (parse_method_spec, "editor[x=1]G.pt", "expected NAME"),
    (parse_method_spec, "my lab:Net", "not an import path"),
    (parse_method_spec, "manual-paint[3]", "expected NAME\\[KEY=VALUE,...\\]"),
])
def test_bad_specs_say_how_to_spell_them(parse, spec, message):
    with pytest.raises(ValueError, match=message):
        parse(spec)


def test_import_paths_are_dotted_names_on_both_sides():
    assert is_import_path("a.b:C.d") and is_import_path("m:f")
    assert not is_import_path("multi:target_dice=0.9") and not is_import_path("a:") and not is_import_path("1a:b")
