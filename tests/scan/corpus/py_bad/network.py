"""Network modules without the network permission (PY101)."""
import socket
import urllib.request
from http import client
import requests
import httpx as h
