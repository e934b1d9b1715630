"""Editing pyRevit's [core] userextensions: one item in, one item out, every other byte kept."""
import ast
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from revitpyiot_installer import pyrevit_config as ini

APP = "C:\\Users\\bim\\AppData\\Local\\RevitPyIoT\\app"
ENV = {"LOCALAPPDATA": "C:\\Users\\bim\\AppData\\Local", "APPDATA": "C:\\Users\\bim\\AppData\\Roaming"}


def add(text, path=APP):
    return ini.add_extension_dir(text, path, True, ENV)


def test_appends_to_a_json_list_in_its_own_style_and_keeps_everything_else():
    text = ('[core]\r\nverbose = true\r\nuserextensions = ["C:\\\\a","D:\\\\b"]\r\n'
            'rocketmode = true\r\n\r\n[environment]\r\nclones = {}\r\n')
    result = add(text)
    assert result.changed and not result.added_key and not result.added_section
    expected_line = 'userextensions = ["C:\\\\a","D:\\\\b","C:\\\\Users\\\\bim\\\\AppData\\\\Local\\\\RevitPyIoT\\\\app"]'
    assert result.text == text.replace('userextensions = ["C:\\\\a","D:\\\\b"]', expected_line)
    assert ini.read_user_extensions(result.text) == ["C:\\a", "D:\\b", APP]


def test_appends_to_a_legacy_python_list_in_python_style():
    text = "[core]\nuserextensions = ['C:\\\\a', 'D:\\\\b']\n"
    result = add(text)
    value = result.text.split(" = ", 1)[1].strip()
    assert value == "['C:\\\\a', 'D:\\\\b', 'C:\\\\Users\\\\bim\\\\AppData\\\\Local\\\\RevitPyIoT\\\\app']"
    assert ast.literal_eval(value) == ["C:\\a", "D:\\b", APP]   # what old pyRevit's eval reads


@pytest.mark.parametrize("value", ["[]", ""])
def test_fills_an_empty_list(value):
    result = add(f"[core]\nuserextensions = {value}\nverbose = false\n")
    assert result.text == '[core]\nuserextensions = ["{}"]\nverbose = false\n'.format(APP.replace("\\", "\\\\"))


def test_adds_the_key_after_the_last_key_of_core():
    text = "[core]\nverbose = true\n; about the next section\n\n[alias]\n"
    result = add(text)
    assert result.added_key and not result.added_section
    assert result.text == ('[core]\nverbose = true\nuserextensions = ["{}"]\n; about the next section\n\n'
                           '[alias]\n'.format(APP.replace("\\", "\\\\")))


def test_adds_the_section_when_missing_and_creates_from_nothing():
    result = add("[environment]\r\nclones = {}")
    assert result.added_section
    assert result.text == '[environment]\r\nclones = {{}}\r\n\r\n[core]\r\nuserextensions = ["{}"]\r\n'.format(APP.replace("\\", "\\\\"))
    assert ini.add_extension_dir("", APP, True, ENV).text.splitlines()[0] == "[core]"


@pytest.mark.parametrize("stored", [
    APP, APP.lower(), APP + "\\", "%LOCALAPPDATA%\\RevitPyIoT\\app", "C:/Users/bim/AppData/Local/RevitPyIoT/app"])
def test_a_path_already_registered_in_any_spelling_is_not_added_again(stored):
    text = f"[core]\nuserextensions = {json.dumps([stored])}\n"
    result = add(text)
    assert not result.changed and result.text == text


def test_posix_paths_are_case_sensitive():
    text = '[core]\nuserextensions = ["/home/U/app"]\n'
    assert ini.add_extension_dir(text, "/home/u/app", False, {}).changed


def test_non_ascii_profile_names_stay_literal_for_ironpython():
    result = add("[core]\nuserextensions = []\n", "C:\\Users\\José\\app")
    assert "José" in result.text and "\\u00e9" not in result.text
    assert ini.read_user_extensions(result.text) == ["C:\\Users\\José\\app"]


def test_remove_restores_the_original_text():
    original = '[core]\r\nuserextensions = ["C:\\\\a", "D:\\\\b"]\r\nverbose = 1\r\n'
    added = add(original).text
    assert ini.remove_extension_dir(added, APP, True, ENV).text == original


def test_remove_keeps_what_the_user_added_later():
    added = add('[core]\nuserextensions = ["C:\\\\a"]\n').text
    later = added.replace('"]', '","E:\\\\new"]').replace("[core]\n", "[core]\nverbose = true\n")
    result = ini.remove_extension_dir(later, APP, True, ENV)
    assert result.text == '[core]\nverbose = true\nuserextensions = ["C:\\\\a","E:\\\\new"]\n'


def test_remove_drops_the_key_and_section_the_installer_added():
    original = "[environment]\nclones = {}\n"
    result = add(original)
    removed = ini.remove_extension_dir(result.text, APP, True, ENV, drop_empty_key=True,
                                       drop_empty_section=True)
    assert removed.text == original


def test_remove_of_an_absent_path_changes_nothing():
    text = '[core]\nuserextensions = ["C:\\\\a"]\n'
    assert not ini.remove_extension_dir(text, APP, True, ENV).changed
    assert not ini.remove_extension_dir("[alias]\n", APP, True, ENV).changed


@pytest.mark.parametrize("value", ['"C:\\\\a"', '["C:\\\\a",]', '["C:\\\\a" "D"]', '[C:\\a]', '["unterminated]'])
def test_a_value_it_cannot_read_is_refused_not_rewritten(value):
    with pytest.raises(ini.ConfigFormatError):
        add(f"[core]\nuserextensions = {value}\n")


def test_usercanextend_and_remove_section():
    assert ini.user_can_extend("[core]\nverbose = 1\n")
    assert not ini.user_can_extend("[core]\nusercanextend = false\n")
    text = "[core]\nverbose = 1\n\n[RevitPyIoT]\nbuilding_id = \"hq\"\n\n[alias]\nx = y\n"
    assert ini.remove_section(text, "RevitPyIoT").text == "[core]\nverbose = 1\n\n[alias]\nx = y\n"


def test_bom_and_legacy_encodings_round_trip():
    data = "\ufeff[core]\nuserextensions = []\n".encode("utf-8")
    text, encoding = ini.decode_config(data)
    assert ini.encode_config(text, encoding) == data
    data = "[core]\nuser = Jos\xe9\n".encode("cp1252")
    text, encoding = ini.decode_config(data)
    assert encoding == "cp1252" and ini.encode_config(text, encoding) == data


paths = st.text(alphabet=st.sampled_from("abcXYZ:\\/ é'%_-."), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(st.lists(paths, max_size=5), st.sampled_from(['"', "'"]), st.sampled_from([",", ", "]),
       st.sampled_from(["\n", "\r\n"]))
def test_add_then_remove_is_the_identity(existing, style, separator, newline):
    existing = [p for p in existing if not ini.same_path(p, APP, True, ENV)]
    items = separator.join(ini.encode_item(p, style) for p in existing)
    text = f"[core]{newline}verbose = true{newline}userextensions = [{items}]{newline}[alias]{newline}"
    assert ini.read_user_extensions(text) == existing
    added = add(text)
    assert added.changed
    assert ini.read_user_extensions(added.text) == existing + [APP]
    if style == '"' or not existing:
        json.loads(added.text.split("userextensions = ", 1)[1].split(newline)[0])  # pyRevit 5 reads JSON
    assert ini.remove_extension_dir(added.text, APP, True, ENV).text == text
