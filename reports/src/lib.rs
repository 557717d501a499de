//! Rendering (BRIEF §10): traces, results and histories to text, JSON, JUnit and self-contained
//! HTML. Depends only on plain data and the checker's types; filled by the report issue.
