__version__ = "1.0.0"
#: The platform version that manifests compare ``min_platform_version`` against.
PLATFORM_VERSION = __version__
