//! Every integration suite of this crate in one test binary: the AWS SDK
//! stack is linked once instead of once per suite.

mod drill;
mod iac;
