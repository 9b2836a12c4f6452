//! SNS subscription filter policies (in progress).
