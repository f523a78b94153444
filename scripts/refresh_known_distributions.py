#!/usr/bin/env python3
"""Rebuild matrioska/data/known_distributions.txt: the well-known distributions that
verification may install for a generated project (see matrioska/kinds/python/installs.py).

The list is the top N distributions by downloads, plus the curated names below (what generated
projects commonly use, and the distributions of the import-name map), plus, optionally, the
distributions installed in some environments (--site). Every name is normalised (PEP 503).

    python scripts/refresh_known_distributions.py                      # download the top 5000
    python scripts/refresh_known_distributions.py --top 8000 top.json  # from a file you have
    python scripts/refresh_known_distributions.py ranks.tsv --site .venv

A source is hugovk's top-pypi-packages JSON ({"rows": [{"project": ..., "download_count": ...}]},
a URL or a file; default: the 30-day list) or a tab-separated listing with a header naming a
`name` column and a `rank...` column (rank 1 is the most downloaded).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.metadata
import json
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matrioska.kinds.python.installs import IMPORT_TO_DISTRIBUTION, normalize  # noqa: E402

DEFAULT_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages-30-days.min.json"
OUTPUT = ROOT / "matrioska" / "data" / "known_distributions.txt"

# What generated projects commonly ask for, kept whatever the download ranks say.
CURATED = """
aiofiles aiohttp aiosqlite alembic altair annoy anthropic anyio apscheduler argon2-cffi arrow
asyncpg attrs authlib babel backoff bcrypt beautifulsoup4 biopython black bleach bleak blessed
bokeh boltons boto3 botocore box2d-py cachetools cassandra-driver catboost cattrs celery certifi
cffi chardet charset-normalizer cherrypy chromadb click clickhouse-driver cloudscraper colorama
coloredlogs coverage cryptography cssselect cvxpy cx-oracle cython dacite dash dask dataclasses-json
dataset dateparser deep-translator defusedxml deprecated dicttoxml diskcache distributed
django django-cors-headers django-debug-toolbar django-environ djangorestframework dlib dnspython
docker docopt duckdb dynaconf easyocr elasticsearch email-validator emoji ephem eventlet
face-recognition faiss-cpu faker fastapi feedparser filelock fire flake8 flask flask-cors
flask-login flask-migrate flask-restful flask-socketio flask-sqlalchemy flask-wtf folium fpdf2
freezegun ftfy funcy fuzzywuzzy gdal gensim geopandas geopy gevent gitpython google-api-python-client
google-auth google-cloud-bigquery google-cloud-storage google-generativeai gql gradio graphene
graphviz greenlet grpcio gtts gunicorn gym gymnasium h5py haversine html2text html5lib httplib2 httpx
humanize hypothesis idna imageio importlib-metadata inquirer invoke ipython isort itsdangerous
jax jellyfish jinja2 jmespath joblib jsonschema jupyter kafka-python keras keyring kivy kubernetes
levenshtein librosa lightgbm loguru lxml mako markdown markdown-it-py markdownify markupsafe
marshmallow matplotlib mediapipe mido mistune mlflow more-itertools motor moviepy msgpack msgspec
music21 mypy mysql-connector-python mysqlclient neo4j nest-asyncio netaddr networkx nltk numba numpy
oauthlib omegaconf onnx onnxruntime openai opencv-python opencv-python-headless openpyxl optuna
orjson ortools packaging paho-mqtt pandas paramiko parsel passlib pdfkit pdfminer-six pendulum
peewee pexpect phonenumbers pika pillow pint platformdirs playwright plotly pluggy polars
prettytable prometheus-client prompt-toolkit protobuf psutil psycopg psycopg2-binary pulp
py2neo pyarrow pyaudio pybluez pybullet pycairo pycountry pycryptodome pycryptodomex pydantic
pydantic-settings pydub pyfiglet pygame pygithub pyglet pygments pygobject pyjwt pylint pymongo
pymunk pymupdf pymysql pynacl pynput pyodbc pyopengl pyopenssl pyotp pyparsing pypdf pypdf2
pyperclip pyproj pyqt5 pyqt6 pyquery pyserial pyside6 pyspark pytesseract pytest pytest-asyncio
pytest-cov pytest-mock python-can python-dateutil python-decouple python-docx python-dotenv
python-engineio python-frontmatter python-jose python-ldap python-magic python-multipart
python-nmap python-pptx python-slugify python-snappy python-socketio python-telegram-bot
python-whois python-xlib pyttsx3 pytz pyusb pywin32 pyyaml pyzmq qrcode questionary rapidfuzz ray
readability-lxml redis regex reportlab requests requests-html requests-oauthlib requests-toolbelt
responses retrying rich rpi-gpio ruamel-yaml ruff s3fs schedule schema scikit-image scikit-learn
scipy scrapy seaborn selenium sendgrid sentence-transformers sentry-sdk setuptools shapely
shortuuid simplejson six slack-sdk sniffio sortedcontainers sounddevice soundfile spacy
speechrecognition sqlalchemy sqlmodel stable-baselines3 starlette statsmodels streamlit
strawberry-graphql structlog stripe sympy tablib tabulate tenacity tensorboard tensorflow
termcolor textblob textual thefuzz tiktoken tinydb tldextract toml tomli tomlkit toolz torch
torchaudio torchvision tornado tqdm trafilatura transformers tweepy twilio typer
typing-extensions tzdata tzlocal ujson ultralytics umap-learn unidecode urllib3 uvicorn
validators vadersentiment voluptuous waitress watchdog weasyprint web3 websocket-client
websockets werkzeug wheel wikipedia windows-curses wordcloud wtforms wxpython xgboost xhtml2pdf
xlrd xlsxwriter xlwt xmltodict yarl yfinance zeroconf
""".split()

# Never listed, whatever the sources say: this project itself.
EXCLUDED = {"matrioska"}


def _load(source: str) -> tuple[list[tuple[int, str]], str]:
    """(rank, name) pairs from a source, and how to describe it."""
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 - a fixed https source
            text = response.read().decode("utf-8")
        shown = f"the 30-day download counts of {source}"
    else:
        text = Path(source).read_text(encoding="utf-8")
        shown = f"the download ranks in {Path(source).name}"
    if text.lstrip().startswith(("{", "[")):
        data = json.loads(text)
        rows = data.get("rows", []) if isinstance(data, dict) else data
        ordered = sorted(rows, key=lambda r: -int(r.get("download_count", 0)))
        return [(i + 1, str(r["project"])) for i, r in enumerate(ordered) if r.get("project")], shown
    reader = csv.reader(text.splitlines(), delimiter="\t")
    header = [h.strip().lower() for h in next(reader)]
    name_column = header.index("name")
    rank_column = next(i for i, h in enumerate(header) if h.startswith("rank"))
    ranked = []
    for row in reader:
        if len(row) > max(name_column, rank_column) and row[rank_column].strip().isdigit():
            ranked.append((int(row[rank_column]), row[name_column]))
    return sorted(ranked), shown


def _installed(site: str) -> set[str]:
    """The distributions installed in a site-packages folder (or a virtual environment's)."""
    folder = Path(site)
    folders = sorted(folder.glob("lib/python3*/site-packages")) or [folder]
    return {
        normalize(d.metadata["Name"])
        for d in importlib.metadata.distributions(path=[str(f) for f in folders])
        if d.metadata["Name"]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "source", nargs="?", default=DEFAULT_URL, help="a top-packages JSON or ranked TSV (file or URL)"
    )
    parser.add_argument("--top", type=int, default=5000, help="how many of the most downloaded to keep (default 5000)")
    parser.add_argument(
        "--site", action="append", default=[], help="also the distributions installed here (repeatable)"
    )
    parser.add_argument(
        "--output", type=Path, default=OUTPUT, help=f"where to write (default {OUTPUT.relative_to(ROOT)})"
    )
    args = parser.parse_args(argv)

    ranked, shown = _load(args.source)
    top = {normalize(name) for rank, name in ranked if rank <= args.top}
    curated = {normalize(n) for n in CURATED} | {normalize(n) for n in IMPORT_TO_DISTRIBUTION.values()}
    installed: set[str] = set()
    for site in args.site:
        installed |= _installed(site)
    names = sorted((top | curated | installed) - EXCLUDED)
    header = [
        "# Well-known distributions of the package index, one name a line, normalised (PEP 503).",
        "# Matrioska's verification installs a generated project's declared requirement only when it",
        "# is listed here or allowed by the user (--allow-install NAME,... / allow_install=), and is",
        "# not the name of one of the project's own modules or files (matrioska/kinds/python/installs.py).",
        f"# Built {datetime.date.today().isoformat()} by scripts/refresh_known_distributions.py: the top "
        f"{args.top} by downloads ({shown}: {len(top)} names),",
        f"# {len(curated)} curated names (in that script)"
        + (f", and the {len(installed)} distributions of {len(args.site)} environment(s)" if args.site else "")
        + f"; {len(names)} in all.",
        "# Refresh: python scripts/refresh_known_distributions.py [--top N] [SOURCE] [--site VENV ...]",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(header + names) + "\n", encoding="utf-8")
    print(f"{args.output}: {len(names)} names ({len(top)} top, {len(curated)} curated, {len(installed)} installed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
