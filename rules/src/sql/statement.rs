//! From text to the two parts a SQL rule is made of: the projection items and the `WHERE`
//! expression, refusing every other clause by name.
//!
//! sqlparser parses far more than a rule can mean (joins, grouping, windows, set operations…).
//! Rather than ignore what we cannot honour, each such construct is an error that names it, at
//! the keyword that introduced it: a rule that silently dropped its `GROUP BY` would do
//! something other than what its author wrote. The checks read the AST field by field, so a new
//! clause in a future sqlparser only compiles here once someone decides what it means.
//!
//! `FROM` is optional and ignored: in AWS IoT it names the MQTT topic, here the rule's bus is
//! the source. It is accepted (one name or one quoted topic, `FROM 'devices/+/telemetry'`) so
//! that statements written for AWS IoT parse unchanged; anything richer after `FROM` is refused.

use sqlparser::ast::{
    GroupByExpr, Query, Select, SelectFlavor, SelectItem, SetExpr, Statement, TableFactor,
    TableWithJoins,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use super::error::SqlError;

/// sqlparser's recursion limit for one statement. Its default (50) still lets an unoptimised
/// build of sqlparser overflow a 2 MiB thread stack on chains of `NOT` or nested calls (each level
/// costs tens of KiB there); 24 levels keep that safe and are plenty for a rule.
pub(crate) const RECURSION_LIMIT: usize = 24;

/// What a rule is made of.
pub(crate) struct Parts {
    pub(crate) projection: Vec<SelectItem>,
    pub(crate) selection: Option<sqlparser::ast::Expr>,
}

/// Parses `text` and checks that it is one plain `SELECT`.
pub(crate) fn parse(text: &str) -> Result<Parts, SqlError> {
    let dialect = GenericDialect {};
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| SqlError::syntax(text, e))?;
    if statements.len() > 1 {
        return Err(SqlError::at(
            semicolon(text).unwrap_or_else(Location::empty),
            "a SQL rule is one statement; this text has several",
        ));
    }
    let Some(statement) = statements.pop() else {
        return Err(SqlError::nowhere(
            "the text has no statement: write SELECT <projection> [WHERE <condition>]",
        ));
    };
    let Statement::Query(query) = statement else {
        let first = statement.to_string();
        let word = first.split_whitespace().next().unwrap_or("this statement");
        return Err(SqlError::at(
            first_token(text),
            format!("only SELECT is supported, not {word}"),
        ));
    };
    let select = query_select(text, *query)?;
    check_select(text, &select)?;
    Ok(Parts {
        projection: select.projection,
        selection: select.selection,
    })
}

/// The `SELECT` of a query that has nothing else.
fn query_select(text: &str, query: Query) -> Result<Select, SqlError> {
    let at = |kw: Keyword, then: Option<Keyword>| {
        keyword(text, &[kw], then).unwrap_or_else(Location::empty)
    };
    if query.with.is_some() {
        return Err(SqlError::unsupported(at(Keyword::WITH, None), "WITH"));
    }
    if query.order_by.is_some() {
        return Err(SqlError::unsupported(
            at(Keyword::ORDER, Some(Keyword::BY)),
            "ORDER BY",
        ));
    }
    if query.limit_clause.is_some() {
        let location =
            keyword(text, &[Keyword::LIMIT, Keyword::OFFSET], None).unwrap_or_else(Location::empty);
        return Err(SqlError::unsupported(location, "LIMIT/OFFSET"));
    }
    if query.fetch.is_some() {
        return Err(SqlError::unsupported(at(Keyword::FETCH, None), "FETCH"));
    }
    if !query.locks.is_empty() || query.for_clause.is_some() {
        return Err(SqlError::unsupported(at(Keyword::FOR, None), "FOR …"));
    }
    if query.settings.is_some() || query.format_clause.is_some() || !query.pipe_operators.is_empty()
    {
        return Err(SqlError::unsupported(
            Location::empty(),
            "SETTINGS, FORMAT and pipe operators",
        ));
    }
    match *query.body {
        SetExpr::Select(select) => Ok(*select),
        SetExpr::SetOperation { op, .. } => {
            let name = op.to_string().to_ascii_uppercase();
            let kw = match name.as_str() {
                "UNION" => Keyword::UNION,
                "INTERSECT" => Keyword::INTERSECT,
                _ => Keyword::EXCEPT,
            };
            Err(SqlError::unsupported(at(kw, None), &name))
        }
        SetExpr::Query(_) => Err(SqlError::unsupported(
            first_token(text),
            "a query in parentheses (a subquery)",
        )),
        SetExpr::Values(_) => Err(SqlError::unsupported(at(Keyword::VALUES, None), "VALUES")),
        _ => Err(SqlError::at(first_token(text), "only SELECT is supported")),
    }
}

/// Refuses every clause of a `SELECT` besides its projection, `FROM` and `WHERE`.
fn check_select(text: &str, s: &Select) -> Result<(), SqlError> {
    let at = |kw: Keyword, then: Option<Keyword>| {
        keyword(text, &[kw], then).unwrap_or(s.select_token.0.span.start)
    };
    let refuse = |location: Location, what: &str| Err(SqlError::unsupported(location, what));
    if s.distinct.is_some() {
        return refuse(
            keyword(text, &[Keyword::DISTINCT, Keyword::ALL], None)
                .unwrap_or_else(|| at(Keyword::DISTINCT, None)),
            "DISTINCT",
        );
    }
    if s.top.is_some() {
        return refuse(at(Keyword::TOP, None), "TOP");
    }
    if s.into.is_some() {
        return refuse(at(Keyword::INTO, None), "SELECT INTO");
    }
    if s.value_table_mode.is_some() {
        return refuse(
            at(Keyword::AS, None),
            "SELECT AS VALUE/STRUCT (or SELECT VALUE)",
        );
    }
    if s.exclude.is_some() || !s.optimizer_hints.is_empty() || s.select_modifiers.is_some() {
        return refuse(at(Keyword::SELECT, None), "select modifiers and hints");
    }
    if s.flavor != SelectFlavor::Standard {
        return refuse(at(Keyword::FROM, None), "FROM before SELECT");
    }
    check_from(text, &s.from)?;
    if !s.lateral_views.is_empty() {
        return refuse(at(Keyword::LATERAL, None), "LATERAL VIEW");
    }
    if s.prewhere.is_some() {
        return refuse(at(Keyword::PREWHERE, None), "PREWHERE");
    }
    let grouped = match &s.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, modifiers) => !exprs.is_empty() || !modifiers.is_empty(),
    };
    if grouped {
        return refuse(at(Keyword::GROUP, Some(Keyword::BY)), "GROUP BY");
    }
    if s.having.is_some() {
        return refuse(at(Keyword::HAVING, None), "HAVING");
    }
    if !s.named_window.is_empty() {
        return refuse(at(Keyword::WINDOW, None), "WINDOW (window functions)");
    }
    if s.qualify.is_some() {
        return refuse(at(Keyword::QUALIFY, None), "QUALIFY");
    }
    if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
        return refuse(Location::empty(), "CLUSTER BY, DISTRIBUTE BY and SORT BY");
    }
    if !s.connect_by.is_empty() {
        return refuse(at(Keyword::CONNECT, None), "CONNECT BY");
    }
    Ok(())
}

/// `FROM` is optional and ignored; it may name one topic or table and nothing else.
fn check_from(text: &str, from: &[TableWithJoins]) -> Result<(), SqlError> {
    let [only] = from else {
        if from.is_empty() {
            return Ok(());
        }
        return Err(SqlError::unsupported(
            keyword(text, &[Keyword::FROM], None).unwrap_or_else(Location::empty),
            "FROM with several sources (an implicit join)",
        ));
    };
    if !only.joins.is_empty() {
        return Err(SqlError::unsupported(
            keyword(text, &[Keyword::JOIN], None).unwrap_or_else(Location::empty),
            "JOIN",
        ));
    }
    let plain = match &only.relation {
        TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            with_ordinality,
            partitions,
            json_path,
            sample,
            index_hints,
        } => {
            name.0.len() == 1
                && alias.is_none()
                && args.is_none()
                && with_hints.is_empty()
                && version.is_none()
                && !with_ordinality
                && partitions.is_empty()
                && json_path.is_none()
                && sample.is_none()
                && index_hints.is_empty()
        }
        TableFactor::Derived { .. } => {
            return Err(SqlError::unsupported(
                keyword(text, &[Keyword::FROM], None).unwrap_or_else(Location::empty),
                "a subquery",
            ));
        }
        _ => false,
    };
    if plain {
        Ok(())
    } else {
        Err(SqlError::unsupported(
            keyword(text, &[Keyword::FROM], None).unwrap_or_else(Location::empty),
            "FROM other than one name or quoted topic (FROM is optional and ignored)",
        ))
    }
}

/// The place of the first unquoted keyword among `kws` (followed by `then`, if given) that is not
/// a member name after a `.` (`data.order` is not `ORDER`).
fn keyword(text: &str, kws: &[Keyword], then: Option<Keyword>) -> Option<Location> {
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .ok()?;
    let significant: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    significant.iter().enumerate().find_map(|(i, t)| {
        let Token::Word(w) = &t.token else {
            return None;
        };
        let after_dot = i > 0 && matches!(significant[i - 1].token, Token::Period);
        let next_ok = match then {
            None => true,
            Some(k) => matches!(significant.get(i + 1).map(|n| &n.token),
                Some(Token::Word(n)) if n.keyword == k && n.quote_style.is_none()),
        };
        let hit = w.quote_style.is_none() && !after_dot && next_ok && kws.contains(&w.keyword);
        hit.then_some(t.span.start)
    })
}

/// The place of the first `;` followed by more than white space.
fn semicolon(text: &str) -> Option<Location> {
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .ok()?;
    let mut iter = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    while let Some(t) = iter.next() {
        if t.token == Token::SemiColon && iter.clone().any(|n| n.token != Token::SemiColon) {
            return Some(t.span.start);
        }
    }
    None
}

/// The place of the first token (where a statement starts).
fn first_token(text: &str) -> Location {
    Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .ok()
        .and_then(|ts| {
            ts.into_iter()
                .find(|t| !matches!(t.token, Token::Whitespace(_)))
                .map(|t| t.span.start)
        })
        .unwrap_or_else(Location::empty)
}
