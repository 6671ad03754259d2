//! Replay tests: one whole provisioning lifecycle per client dialect (Entra default, Entra with
//! aadOptscim062020, the Microsoft SCIM Validator, Okta OIN, Okta AIW), asserting stored state
//! after every step.
