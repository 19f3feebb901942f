"""Start again as a new CarrierX customer: the blank account (store.reset(blank=True))."""

from __future__ import annotations

from store import Store

from .form import FormDialog, Values

BLANK_INTRO = (
    "The account becomes a new customer's: the System Gateway and phone numbers nobody has "
    "assigned yet. Your endpoints, trunk groups, firewall rules and the PBX's trunk settings "
    "are removed (the calls' records are kept). Then build the trunk yourself: Endpoints (e), "
    "Phone Numbers (n), Firewall (f), PBX settings (b), and run the checklist (k)."
)


def start_blank(store: Store) -> FormDialog:
    async def save(values: Values) -> str:
        await store.reset(blank=True)
        return "A new customer's account: start with Endpoints (e) -> Add New Endpoint (+)"

    return FormDialog("blank-account-dialog", "Start as a new customer (blank account)?", (), save,
                      intro=BLANK_INTRO, save_label="Start blank")
