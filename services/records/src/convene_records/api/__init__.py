"""records' HTTP API: thin views -> service functions -> repositories.

Every view takes the verified caller (``CurrentPrincipal``) and works inside its account;
an id of another account is a 404 that reveals nothing.
"""

from fastapi import APIRouter

from convene_records.api import accounts, associations, contacts, crm, users

ROUTERS: list[APIRouter] = [accounts.router, users.router, contacts.router, *crm.ROUTERS,
                            associations.router]
