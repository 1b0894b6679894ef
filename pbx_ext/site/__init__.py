"""The site: the office described in one YAML file, loaded into checked, frozen models.

>>> from pbx_ext.site import load_site
>>> site = load_site("examples/office.yaml")  # doctest: +SKIP
>>> site.group("600").members  # doctest: +SKIP
('1001', '1002', '1003')

``load_site`` and ``parse_site`` raise :class:`~pbx_ext.errors.SiteError` whose ``problems``
list every problem of the file, in file order, as ``FILE:LINE:COL: dotted.path: message``.
"""

from pbx_ext.site.destinations import (
    Destination,
    ExternalDest,
    GroupDest,
    UserDest,
    VoicemailDest,
)
from pbx_ext.site.loader import load_site, parse_site
from pbx_ext.site.model import (
    BlfKey,
    Dialing,
    Did,
    Forward,
    Group,
    Network,
    Permission,
    Phone,
    Site,
    SiteInfo,
    SpeedDialKey,
    Strategy,
    Transport,
    Trunk,
    User,
    Vendor,
    VoiceVlan,
)

__all__ = [
    "BlfKey",
    "Destination",
    "Dialing",
    "Did",
    "ExternalDest",
    "Forward",
    "Group",
    "GroupDest",
    "Network",
    "Permission",
    "Phone",
    "Site",
    "SiteInfo",
    "SpeedDialKey",
    "Strategy",
    "Transport",
    "Trunk",
    "User",
    "UserDest",
    "Vendor",
    "VoiceVlan",
    "VoicemailDest",
    "load_site",
    "parse_site",
]
