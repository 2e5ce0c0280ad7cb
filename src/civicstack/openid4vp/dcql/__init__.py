"""The Digital Credentials Query Language (OpenID4VP 1.0 §6) and claims path pointers (§7).

A DCQL query names the Credentials a Verifier wants (§6.1 Credential Query: ``id``, ``format``,
``meta``, ``claims``, ``claim_sets``, ``multiple``...), optionally which combinations of them
satisfy it (§6.2 Credential Set Query), and within each Credential the claims (§6.3 Claims
Query: ``path``, ``values``). This package reads a query strictly (every value type-checked and
bounded; unknown members are ignored, as §6 requires), and answers the two questions the
protocol asks of it:

* the Verifier's (§8.6 step 2.b and step 3): does a set of verified presentations satisfy the
  query? :meth:`DcqlQuery.check_presented` applies the selection rules of §6.4 and raises
  ``query_not_satisfied`` when they are not met;
* the Wallet's (§6.4): which claims of which credential to disclose. :meth:`DcqlQuery.choose`
  picks, for every Credential Query the request needs, the first credential type and claim set
  option the holder can answer, in the Verifier's order of preference (§6.4.1).

Only the SD-JWT VC format (``dc+sd-jwt``, Appendix B.3) is supported: ``meta.vct_values`` is
required, and a Credential Query asking for another format is ``unsupported``. Claims path
pointers (§7.1) are processed exactly as specified; to hand them to civicstack's wallet they are
also written as dotted paths (``["address", "locality"]`` is ``address.locality``), which
covers every pointer except a ``null`` (all array elements) before the last component.

* :mod:`.paths` — claims path pointers (§7) and their dotted form;
* :mod:`.credential_query` — Credential, Claims and Credential Set Queries (§6.1-§6.3);
* :mod:`.reading` — the JSON form read strictly, with its bounds;
* :mod:`.query` — the whole query: the Verifier's check and the Wallet's choice.
"""

from civicstack.openid4vp.dcql.credential_query import (
    FORMAT_SD_JWT_VC,
    ClaimValue,
    DcqlClaim,
    DcqlCredential,
    DcqlCredentialSet,
)
from civicstack.openid4vp.dcql.paths import PathComponent, dotted, select
from civicstack.openid4vp.dcql.query import Choice, DcqlQuery, query_for
from civicstack.openid4vp.dcql.reading import (
    MAX_CLAIMS,
    MAX_CREDENTIAL_QUERIES,
    MAX_PATH_COMPONENTS,
    MAX_SETS,
    MAX_TEXT,
    MAX_VALUES,
    MAX_VCT_VALUES,
)

__all__ = [
    "FORMAT_SD_JWT_VC",
    "MAX_CLAIMS",
    "MAX_CREDENTIAL_QUERIES",
    "MAX_PATH_COMPONENTS",
    "MAX_SETS",
    "MAX_TEXT",
    "MAX_VALUES",
    "MAX_VCT_VALUES",
    "Choice",
    "ClaimValue",
    "DcqlClaim",
    "DcqlCredential",
    "DcqlCredentialSet",
    "DcqlQuery",
    "PathComponent",
    "dotted",
    "query_for",
    "select",
]
