"""Safe Mobility ABM: how migrants in Latin America choose between a Safe Mobility Office, staying,
humanitarian parole and a smuggler through the Darien Gap."""
__version__ = "0.1.0"
