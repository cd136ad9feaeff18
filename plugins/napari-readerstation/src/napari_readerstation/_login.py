"""The login box the Measure, Adjudication and Monitoring docks share.

User name, password (hidden) and a "Log in" button; Enter in the password field logs in.
The dock keeps the session: the box only hands the typed name and password to the dock's
``login`` gesture.
"""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtWidgets import QFormLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QWidget

__all__ = ["LoginBox"]


class LoginBox(QGroupBox):
    """A titled box with the user name, the password and the "Log in" button.

    Parameters
    ----------
    title : str
        The box title (who logs in here: "Reader", "Adjudicator", ...).
    user, password : str
        Prefilled user name and password (demo stores only).
    login : callable
        The dock's gesture, called with (user name, password) on a click or Enter.
    parent : QWidget, optional
        Qt parent.
    """

    def __init__(
        self,
        title: str,
        user: str,
        password: str,
        login: Callable[[str, str], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title, parent)
        form = QFormLayout(self)
        self.user_edit = QLineEdit(user)
        self.password_edit = QLineEdit(password)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.login_button = QPushButton("Log in")
        self.login_button.clicked.connect(
            lambda: login(self.user_edit.text(), self.password_edit.text())
        )
        self.password_edit.returnPressed.connect(self.login_button.click)
        self.user_label = QLabel("not logged in")
        form.addRow("User", self.user_edit)
        form.addRow("Password", self.password_edit)
        form.addRow(self.login_button, self.user_label)
