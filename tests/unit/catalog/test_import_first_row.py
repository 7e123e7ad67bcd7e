"""A refused import names, per refused column, the line of the first bad row and what was wanted.

The data look like an open-government export (UTF-8 with BOM, a quoted line break, thousands
separators, dates in several forms, trailing spaces, a repeated key, empty cells). The quality
report stays as it was (counts, never a value or a row); the error adds where to look, never
repeats the value, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from zone.catalog import DatasetMeta, ImportRefused, import_dataset, list_datasets
from zone.catalog.metadata import load_metadata
from zone.errors import ValidationFailed

META = """\
description: 企业注册登记信息
provider: 市场监督管理局
entity_key: uscc
columns:
  uscc: {type: string, level: L3, description: 统一社会信用代码}
  name: {type: string, level: L3, description: 企业名称}
  district: {type: string, level: L1, domain: [东城区, 西城区, 南湖区], description: 所属区县}
  founded: {type: date, level: L1, description: 成立日期}
  capital: {type: float, level: L2, bounds: [0, 100000], description: 注册资本(万元)}
  employees: {type: integer, level: L2, bounds: [0, 5000], description: 从业人数}
  high_tech: {type: boolean, level: L1, description: 是否高新技术企业}
"""
HEADER = "uscc,name,district,founded,capital,employees,high_tech"
ROWS = [
    '91330100000000001A,"测试企业一\n有限公司",东城区,2010-11-19,3175.18,12,true',  # lines 2-3
    "91330100000000002B,测试企业二,西城区,2002-11-05,2044.49,,false",  # line 4
    '91330100000000003C,测试企业三,南湖区 ,2018-07-23,"3,175.18",7,true',  # line 5
    "91330100000000004D,测试企业四,东城区,2015年9月13日,12.5,3,是",  # line 6
    "91330100000000002B,测试企业二,西城区,2002-11-05,2044.49,,false",  # line 7: repeats line 4
]


def _write(path: Path, rows: list[str], encoding: str = "utf-8-sig") -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding=encoding, newline="")
    return path


@pytest.fixture
def meta(tmp_path: Path) -> DatasetMeta:
    source = tmp_path / "registry.meta.yaml"
    source.write_text(META, encoding="utf-8")
    return load_metadata(source)


def _refusal(tmp_path: Path, source: Path, meta: DatasetMeta) -> ValidationFailed:
    store = tmp_path / "store"
    with pytest.raises(ValidationFailed) as err:
        import_dataset(store, source, "registry", meta)
    assert not store.exists() or list_datasets(store) == []  # nothing written
    return err.value


def test_each_refused_column_names_its_first_line_and_what_was_expected(
    tmp_path: Path, meta: DatasetMeta
) -> None:
    source = _write(tmp_path / "registry.csv", ROWS)
    error = _refusal(tmp_path, source, meta)
    assert isinstance(error, ImportRefused)
    found = {p.message.split("'")[1]: p for p in error.problems}
    assert {name: p.line for name, p in found.items()} == {
        "uscc": 7, "district": 5, "founded": 6, "capital": 5, "high_tech": 6,
    }  # fmt: skip
    assert "data row 5, duplicate" in found["uscc"].message
    assert "earlier row" in found["uscc"].message
    assert "data row 3, domain" in found["district"].message
    assert "spaces" in found["district"].message
    assert "YYYY-MM-DD" in found["founded"].message
    assert "no thousands separators" in found["capital"].message
    assert "true or false" in found["high_tech"].message
    assert "column 'capital': 1 type (on_violation: refuse)" in found["capital"].message
    text = str(error)
    for value in ("南湖区 ", "3,175.18", "2015年9月13日", "是", "91330100000000002B"):
        assert value not in text  # the line is named, the value is not repeated
    assert "the first is" not in error.report.to_json()  # the stored report is unchanged


def test_a_clean_file_imports(tmp_path: Path, meta: DatasetMeta) -> None:
    clean = [
        ROWS[0],
        ROWS[1],
        ROWS[2].replace("南湖区 ", "南湖区").replace('"3,175.18"', "3175.18"),
        ROWS[3].replace("2015年9月13日", "2015-09-13").replace("是", "true"),
    ]
    result = import_dataset(
        tmp_path / "store", _write(tmp_path / "ok.csv", clean), "registry", meta
    )
    assert result.info.row_count == 4


def test_parquet_names_the_row(tmp_path: Path, meta: DatasetMeta) -> None:
    source = tmp_path / "registry.parquet"
    csv = _write(tmp_path / "registry.csv", ROWS)
    duckdb.sql(
        f"COPY (SELECT * FROM read_csv('{csv}', all_varchar = true)) TO '{source}' (FORMAT parquet)"
    )
    error = _refusal(tmp_path, source, meta)
    founded = next(p for p in error.problems if "'founded'" in p.message)
    assert founded.line is None and "the first is row 4 (data row 4, type)" in founded.message


def test_a_gb18030_export_is_told_to_convert(tmp_path: Path, meta: DatasetMeta) -> None:
    source = _write(tmp_path / "gb.csv", ROWS[1:2], encoding="gb18030")
    error = _refusal(tmp_path, source, meta)
    assert all("not valid UTF-8" in p.message for p in error.problems)
    assert "iconv -f GB18030 -t UTF-8" in str(error)
    header = tmp_path / "gb_header.csv"
    header.write_text("统一社会信用代码\n1\n", encoding="gb18030")
    assert "iconv -f GB18030" in str(_refusal(tmp_path, header, meta))


def test_chinese_headers_and_names_say_what_to_do(tmp_path: Path, meta: DatasetMeta) -> None:
    source = tmp_path / "cn.csv"
    source.write_text("统一社会信用代码,企业名称\n1,a\n", encoding="utf-8-sig")
    error = _refusal(tmp_path, source, meta)
    assert "rename it in the file's header row" in str(error)
    declared = yaml.safe_load(META)
    declared["columns"]["统一社会信用代码"] = declared["columns"].pop("uscc")
    declared["entity_key"] = "统一社会信用代码"
    bad = tmp_path / "cn.meta.yaml"
    bad.write_text(yaml.safe_dump(declared, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_metadata(bad)
    assert "header row" in str(err.value) and "description" in str(err.value)
