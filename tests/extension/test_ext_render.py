"""The docs' pictures (docs/img/extension-*.png) stay renderable from the fake model."""
import pathlib

from PIL import Image


def test_renders_plan_output_and_ribbon(fake_revit, tmp_path):
    import ext_building
    import ext_render
    from Autodesk.Revit import DB
    b = ext_building.build(fake_revit, floors=2, link_floors=1)
    t = DB.Transaction(b.doc, "colour")
    t.Start()
    b.plan.SetElementOverrides(b.equipment[0].Id, DB.OverrideGraphicSettings().SetProjectionLineColor(
        DB.Color(214, 39, 40)))
    t.Commit()
    plan = ext_render.render_plan(b, b.plan, 0, str(tmp_path / "plan.png"), "Ebene 0")
    image = Image.open(plan).convert("RGB")
    assert (214, 39, 40) in [colour for _, colour in image.getcolors(1 << 20)]   # drawn in its colour
    out = fake_revit.run_button("Clear Colours")
    shot = ext_render.render_output(out, str(tmp_path / "out.png"), "Clear Colours")
    assert Image.open(shot).size[0] == 980
    ribbon = Image.open(ext_render.render_icons(str(tmp_path / "ribbon.png")))
    assert ribbon.size[1] == 150


def test_icons_are_square_and_small_with_dark_variants():
    import os
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "RevitPyIoT.extension", "RevitPyIoT.tab")
    bundles = [os.path.join(d, f) for d, dirs, _ in os.walk(root) for f in dirs
               if f.endswith((".pushbutton", ".smartbutton"))]
    assert len(bundles) == 13
    for bundle in bundles:
        for name in ("icon.png", "icon.dark.png"):
            image = Image.open(os.path.join(bundle, name))
            assert image.size[0] == image.size[1] <= 96, bundle
        yaml = pathlib.Path(bundle, "bundle.yaml").read_text(encoding="utf-8")
        assert yaml.startswith("title: ") and "\ntooltip: " in yaml and "\nauthor: " in yaml
        if bundle.endswith(".smartbutton"):
            for name in ("on.png", "off.png", "on.dark.png", "off.dark.png"):
                assert os.path.exists(os.path.join(bundle, name))
