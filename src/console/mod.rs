//! The admin console under `/admin/` (issue 17), being built: so far its session store
//! ([`sessions`]): one-time sign-in codes and the browser sessions they start. The pages,
//! the router and the security headers come next; like the sessions they call `service`
//! and never name `store`.

pub mod sessions;
