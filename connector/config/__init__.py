"""The YAML configuration: the model (``model``) and its one-pass validator (``validate``).

Every problem in a file is collected and reported at once, each naming its YAML path
(``mappings[2].columns.amount.type: unknown type 'flaot64'``). Secrets are wrapped in
``Secret`` so that no repr, log line or error message can show them.
"""

from connector.config.model import (
    API_VERSIONS,
    AUTH_HEADERS,
    BODY_FORMATS,
    DELIVERIES,
    FORCED_CONSUMER_PROPS,
    FORMATS,
    MAX_IN_FLIGHT,
    NO_DEFAULT,
    ON_ERROR,
    OWNED_CONSUMER_PROPS,
    REGISTRY_FORMATS,
    ApiVersion,
    AuthHeader,
    BatchConfig,
    BodyFormat,
    ColumnConfig,
    Config,
    Delivery,
    HttpConfig,
    MappingConfig,
    OwnedProp,
    SchemaRegistryConfig,
    Secret,
    SourceKind,
    TimeplusConfig,
    parse_listen,
)
from connector.config.validate import DEFAULT_GROUP_ID, load_config, parse_config
from connector.errors import ConfigError

__all__ = [
    "API_VERSIONS",
    "AUTH_HEADERS",
    "BODY_FORMATS",
    "DEFAULT_GROUP_ID",
    "DELIVERIES",
    "FORCED_CONSUMER_PROPS",
    "FORMATS",
    "MAX_IN_FLIGHT",
    "NO_DEFAULT",
    "ON_ERROR",
    "OWNED_CONSUMER_PROPS",
    "REGISTRY_FORMATS",
    "ApiVersion",
    "AuthHeader",
    "BatchConfig",
    "BodyFormat",
    "ColumnConfig",
    "Config",
    "ConfigError",
    "Delivery",
    "HttpConfig",
    "MappingConfig",
    "OwnedProp",
    "SchemaRegistryConfig",
    "Secret",
    "SourceKind",
    "TimeplusConfig",
    "load_config",
    "parse_config",
    "parse_listen",
]
