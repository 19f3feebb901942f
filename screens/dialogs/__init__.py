"""The CONFIGURE dialogs: each edit of the account is one dialog, and one store transaction.

form.py holds the dialog every one of them is (fields, Save, Cancel, errors under the fields);
the other modules say which fields an edit has and which store call saves it.
"""
