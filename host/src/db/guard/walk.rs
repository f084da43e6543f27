//! The walk over libpg_query's parse tree (its protobuf structs, directly).
//!
//! Completeness is what makes the guard worth having, so it is enforced by
//! construction rather than by care:
//! - every node kind a read-only analytic SELECT can contain has an arm
//!   below; any other kind is refused (allowlist of *constructs*);
//! - every arm destructures its struct without `..`, so a field the walk
//!   does not visit is a compile error, and a new field in a new libpg_query
//!   release is one too.
//!
//! What is checked on the way: every function call (call syntax, and
//! attribute notation `x.f` / `(x).f`, which PostgreSQL turns into `f(x)`
//! when `f` is not a column), every operator symbol, every type a value is
//! cast to, and every relation read.

use pg_query::protobuf as pb;
use pg_query::protobuf::node::Node as N;

use super::Rejected;
use super::allowlist::{Allowlist, FUNCTION_SCHEMAS, RETAIL_TABLES};
use super::known::KnownFunctions;

type Checked = Result<(), Rejected>;

fn reject(message: impl Into<String>) -> Checked {
    Err(Rejected(message.into()))
}

pub(super) struct Walker<'a> {
    allow: &'a Allowlist,
    known: &'a KnownFunctions,
    /// CTE names in scope, one frame per WITH clause being walked.
    ctes: Vec<Vec<String>>,
}

impl<'a> Walker<'a> {
    pub(super) fn new(allow: &'a Allowlist, known: &'a KnownFunctions) -> Self {
        Self {
            allow,
            known,
            ctes: Vec::new(),
        }
    }

    fn node(&mut self, node: &pb::Node) -> Checked {
        match &node.node {
            Some(n) => self.kind(n),
            None => Ok(()),
        }
    }

    fn nodes(&mut self, nodes: &[pb::Node]) -> Checked {
        nodes.iter().try_for_each(|n| self.node(n))
    }

    fn boxed(&mut self, node: &Option<Box<pb::Node>>) -> Checked {
        match node {
            Some(n) => self.node(n),
            None => Ok(()),
        }
    }

    fn kind(&mut self, node: &N) -> Checked {
        match node {
            N::SelectStmt(s) => self.select(s),
            N::ResTarget(t) => {
                let pb::ResTarget {
                    name: _,
                    indirection,
                    val,
                    location: _,
                } = &**t;
                self.indirection(indirection)?;
                self.boxed(val)
            }
            N::ColumnRef(c) => {
                let pb::ColumnRef {
                    fields,
                    location: _,
                } = c;
                for field in fields {
                    system_column(field)?;
                }
                // `a.b` is `b(a)` when `b` is not a column of `a`; the first
                // name never is a call.
                for field in fields.iter().skip(1) {
                    self.field_name(field)?;
                }
                Ok(())
            }
            N::AIndirection(i) => {
                let pb::AIndirection { arg, indirection } = &**i;
                self.boxed(arg)?;
                self.indirection(indirection)
            }
            N::AIndices(i) => {
                let pb::AIndices {
                    is_slice: _,
                    lidx,
                    uidx,
                } = &**i;
                self.boxed(lidx)?;
                self.boxed(uidx)
            }
            N::AStar(_)
            | N::AConst(_)
            | N::ParamRef(_)
            | N::Integer(_)
            | N::Float(_)
            | N::Boolean(_)
            | N::String(_)
            | N::BitString(_) => Ok(()),
            N::List(l) => self.nodes(&l.items),
            N::FuncCall(f) => self.call(f),
            N::AExpr(e) => {
                let pb::AExpr {
                    kind,
                    name,
                    lexpr,
                    rexpr,
                    rexpr_list_start: _,
                    rexpr_list_end: _,
                    location: _,
                } = &**e;
                // BETWEEN and friends name the construct, not an operator;
                // PostgreSQL runs them as `>=` and `<=`.
                let between = matches!(
                    pb::AExprKind::try_from(*kind),
                    Ok(pb::AExprKind::AexprBetween
                        | pb::AExprKind::AexprNotBetween
                        | pb::AExprKind::AexprBetweenSym
                        | pb::AExprKind::AexprNotBetweenSym)
                );
                if !between {
                    self.operator(name)?;
                }
                self.boxed(lexpr)?;
                self.boxed(rexpr)
            }
            N::BoolExpr(b) => {
                let pb::BoolExpr {
                    xpr,
                    boolop: _,
                    args,
                    location: _,
                } = &**b;
                self.boxed(xpr)?;
                self.nodes(args)
            }
            N::TypeCast(c) => {
                let pb::TypeCast {
                    arg,
                    type_name,
                    location: _,
                } = &**c;
                self.boxed(arg)?;
                self.type_name(type_name.as_ref())
            }
            N::TypeName(t) => self.type_name(Some(t)),
            N::SubLink(s) => {
                let pb::SubLink {
                    xpr,
                    sub_link_type: _,
                    sub_link_id: _,
                    testexpr,
                    oper_name,
                    subselect,
                    location: _,
                } = &**s;
                if !oper_name.is_empty() {
                    self.operator(oper_name)?;
                }
                self.boxed(xpr)?;
                self.boxed(testexpr)?;
                self.boxed(subselect)
            }
            N::RangeVar(r) => self.relation(r),
            N::RangeSubselect(r) => {
                let pb::RangeSubselect {
                    lateral: _,
                    subquery,
                    alias,
                } = &**r;
                self.boxed(subquery)?;
                self.alias(alias.as_ref())
            }
            N::RangeFunction(r) => {
                let pb::RangeFunction {
                    lateral: _,
                    ordinality: _,
                    is_rowsfrom: _,
                    functions,
                    alias,
                    coldeflist,
                } = r;
                self.nodes(functions)?;
                self.alias(alias.as_ref())?;
                self.nodes(coldeflist)
            }
            N::ColumnDef(c) => self.column_def(c),
            N::JoinExpr(j) => {
                let pb::JoinExpr {
                    jointype: _,
                    is_natural: _,
                    larg,
                    rarg,
                    using_clause,
                    join_using_alias,
                    quals,
                    alias,
                    rtindex: _,
                } = &**j;
                self.boxed(larg)?;
                self.boxed(rarg)?;
                self.nodes(using_clause)?;
                self.alias(join_using_alias.as_ref())?;
                self.boxed(quals)?;
                self.alias(alias.as_ref())
            }
            N::Alias(a) => self.alias(Some(a)),
            N::SortBy(s) => {
                let pb::SortBy {
                    node,
                    sortby_dir: _,
                    sortby_nulls: _,
                    use_op,
                    location: _,
                } = &**s;
                if !use_op.is_empty() {
                    self.operator(use_op)?;
                }
                self.boxed(node)
            }
            N::WindowDef(w) => self.window(w),
            N::CaseExpr(c) => {
                let pb::CaseExpr {
                    xpr,
                    casetype: _,
                    casecollid: _,
                    arg,
                    args,
                    defresult,
                    location: _,
                } = &**c;
                self.boxed(xpr)?;
                self.boxed(arg)?;
                self.nodes(args)?;
                self.boxed(defresult)
            }
            N::CaseWhen(c) => {
                let pb::CaseWhen {
                    xpr,
                    expr,
                    result,
                    location: _,
                } = &**c;
                self.boxed(xpr)?;
                self.boxed(expr)?;
                self.boxed(result)
            }
            N::CoalesceExpr(c) => {
                let pb::CoalesceExpr {
                    xpr,
                    coalescetype: _,
                    coalescecollid: _,
                    args,
                    location: _,
                } = &**c;
                self.boxed(xpr)?;
                self.nodes(args)
            }
            N::MinMaxExpr(m) => {
                let pb::MinMaxExpr {
                    xpr,
                    minmaxtype: _,
                    minmaxcollid: _,
                    inputcollid: _,
                    op: _,
                    args,
                    location: _,
                } = &**m;
                self.boxed(xpr)?;
                self.nodes(args)
            }
            N::NullTest(t) => {
                let pb::NullTest {
                    xpr,
                    arg,
                    nulltesttype: _,
                    argisrow: _,
                    location: _,
                } = &**t;
                self.boxed(xpr)?;
                self.boxed(arg)
            }
            N::BooleanTest(t) => {
                let pb::BooleanTest {
                    xpr,
                    arg,
                    booltesttype: _,
                    location: _,
                } = &**t;
                self.boxed(xpr)?;
                self.boxed(arg)
            }
            N::AArrayExpr(a) => {
                let pb::AArrayExpr {
                    elements,
                    list_start: _,
                    list_end: _,
                    location: _,
                } = a;
                self.nodes(elements)
            }
            N::RowExpr(r) => {
                let pb::RowExpr {
                    xpr,
                    args,
                    row_typeid: _,
                    row_format: _,
                    colnames,
                    location: _,
                } = &**r;
                self.boxed(xpr)?;
                self.nodes(args)?;
                self.nodes(colnames)
            }
            N::GroupingSet(g) => {
                let pb::GroupingSet {
                    kind: _,
                    content,
                    location: _,
                } = g;
                self.nodes(content)
            }
            N::GroupingFunc(g) => {
                let pb::GroupingFunc {
                    xpr,
                    args,
                    refs,
                    agglevelsup: _,
                    location: _,
                } = &**g;
                self.boxed(xpr)?;
                self.nodes(args)?;
                self.nodes(refs)
            }
            N::CollateClause(c) => {
                let pb::CollateClause {
                    arg,
                    collname,
                    location: _,
                } = &**c;
                // A collation only orders and compares text.
                self.boxed(arg)?;
                self.nodes(collname)
            }
            N::SqlvalueFunction(f) => {
                // CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER, ...: fixed
                // for the transaction, nothing to reach.
                let pb::SqlValueFunction {
                    xpr,
                    op: _,
                    r#type: _,
                    typmod: _,
                    location: _,
                } = &**f;
                self.boxed(xpr)
            }
            N::NamedArgExpr(a) => {
                let pb::NamedArgExpr {
                    xpr,
                    arg,
                    name: _,
                    argnumber: _,
                    location: _,
                } = &**a;
                self.boxed(xpr)?;
                self.boxed(arg)
            }
            N::CommonTableExpr(c) => self.cte(c),
            N::WithClause(w) => {
                // Only reached through a SELECT, which scopes it.
                self.with(w)?;
                self.ctes.pop();
                Ok(())
            }
            N::CtesearchClause(s) => {
                let pb::CteSearchClause {
                    search_col_list,
                    search_breadth_first: _,
                    search_seq_column: _,
                    location: _,
                } = s;
                self.nodes(search_col_list)
            }
            N::CtecycleClause(c) => self.cycle(c),
            // SQL/JSON: constructors and jsonpath queries over the caller's
            // own values.
            N::JsonFuncExpr(f) => {
                let pb::JsonFuncExpr {
                    op: _,
                    column_name: _,
                    context_item,
                    pathspec,
                    passing,
                    output,
                    on_empty,
                    on_error,
                    wrapper: _,
                    quotes: _,
                    location: _,
                } = &**f;
                self.json_value(context_item.as_deref())?;
                self.boxed(pathspec)?;
                self.nodes(passing)?;
                self.json_output(output.as_ref())?;
                self.json_behavior(on_empty.as_deref())?;
                self.json_behavior(on_error.as_deref())
            }
            N::JsonObjectConstructor(c) => {
                let pb::JsonObjectConstructor {
                    exprs,
                    output,
                    absent_on_null: _,
                    unique: _,
                    location: _,
                } = c;
                self.nodes(exprs)?;
                self.json_output(output.as_ref())
            }
            N::JsonArrayConstructor(c) => {
                let pb::JsonArrayConstructor {
                    exprs,
                    output,
                    absent_on_null: _,
                    location: _,
                } = c;
                self.nodes(exprs)?;
                self.json_output(output.as_ref())
            }
            N::JsonArrayQueryConstructor(c) => {
                let pb::JsonArrayQueryConstructor {
                    query,
                    output,
                    format: _,
                    absent_on_null: _,
                    location: _,
                } = &**c;
                self.boxed(query)?;
                self.json_output(output.as_ref())
            }
            N::JsonObjectAgg(a) => {
                let pb::JsonObjectAgg {
                    constructor,
                    arg,
                    absent_on_null: _,
                    unique: _,
                } = &**a;
                self.json_aggregate(constructor.as_deref())?;
                if let Some(arg) = arg {
                    self.json_key_value(arg)?;
                }
                Ok(())
            }
            N::JsonArrayAgg(a) => {
                let pb::JsonArrayAgg {
                    constructor,
                    arg,
                    absent_on_null: _,
                } = &**a;
                self.json_aggregate(constructor.as_deref())?;
                self.json_value(arg.as_deref())
            }
            N::JsonValueExpr(v) => self.json_value(Some(v)),
            N::JsonKeyValue(kv) => self.json_key_value(kv),
            N::JsonOutput(o) => self.json_output(Some(o)),
            N::JsonFormat(_) | N::JsonReturning(_) | N::JsonTablePath(_) => Ok(()),
            N::JsonIsPredicate(p) => {
                let pb::JsonIsPredicate {
                    expr,
                    format: _,
                    item_type: _,
                    unique_keys: _,
                    location: _,
                } = &**p;
                self.boxed(expr)
            }
            N::JsonParseExpr(p) => {
                let pb::JsonParseExpr {
                    expr,
                    output,
                    unique_keys: _,
                    location: _,
                } = &**p;
                self.json_value(expr.as_deref())?;
                self.json_output(output.as_ref())
            }
            N::JsonScalarExpr(s) => {
                let pb::JsonScalarExpr {
                    expr,
                    output,
                    location: _,
                } = &**s;
                self.boxed(expr)?;
                self.json_output(output.as_ref())
            }
            N::JsonSerializeExpr(s) => {
                let pb::JsonSerializeExpr {
                    expr,
                    output,
                    location: _,
                } = &**s;
                self.json_value(expr.as_deref())?;
                self.json_output(output.as_ref())
            }
            N::JsonArgument(a) => {
                let pb::JsonArgument { val, name: _ } = &**a;
                self.json_value(val.as_deref())
            }
            N::JsonBehavior(b) => self.json_behavior(Some(b)),
            N::JsonTable(t) => {
                let pb::JsonTable {
                    context_item,
                    pathspec,
                    passing,
                    columns,
                    on_error,
                    alias,
                    lateral: _,
                    location: _,
                } = &**t;
                self.json_value(context_item.as_deref())?;
                self.json_path_spec(pathspec.as_deref())?;
                self.nodes(passing)?;
                self.nodes(columns)?;
                self.json_behavior(on_error.as_deref())?;
                self.alias(alias.as_ref())
            }
            N::JsonTableColumn(c) => {
                let pb::JsonTableColumn {
                    coltype: _,
                    name: _,
                    type_name,
                    pathspec,
                    format: _,
                    wrapper: _,
                    quotes: _,
                    columns,
                    on_empty,
                    on_error,
                    location: _,
                } = &**c;
                if type_name.is_some() {
                    self.type_name(type_name.as_ref())?;
                }
                self.json_path_spec(pathspec.as_deref())?;
                self.nodes(columns)?;
                self.json_behavior(on_empty.as_deref())?;
                self.json_behavior(on_error.as_deref())
            }
            N::JsonTablePathSpec(p) => self.json_path_spec(Some(p)),
            other => reject(unsupported(other)),
        }
    }

    pub(super) fn select(&mut self, s: &pb::SelectStmt) -> Checked {
        let pb::SelectStmt {
            distinct_clause,
            into_clause,
            target_list,
            from_clause,
            where_clause,
            group_clause,
            group_distinct: _,
            having_clause,
            window_clause,
            values_lists,
            sort_clause,
            limit_offset,
            limit_count,
            limit_option: _,
            locking_clause,
            with_clause,
            op: _,
            all: _,
            larg,
            rarg,
        } = s;
        if into_clause.is_some() {
            return reject(
                "SELECT ... INTO creates a table and is not allowed; drop the INTO clause",
            );
        }
        if !locking_clause.is_empty() {
            return reject(
                "row locking (FOR UPDATE / FOR SHARE ...) is not allowed in read-only queries",
            );
        }
        let scoped = match with_clause {
            Some(with) => {
                self.with(with)?;
                true
            }
            None => false,
        };
        let walked = (|| {
            self.nodes(distinct_clause)?;
            self.nodes(target_list)?;
            self.nodes(from_clause)?;
            self.boxed(where_clause)?;
            self.nodes(group_clause)?;
            self.boxed(having_clause)?;
            self.nodes(window_clause)?;
            self.nodes(values_lists)?;
            self.nodes(sort_clause)?;
            self.boxed(limit_offset)?;
            self.boxed(limit_count)?;
            if let Some(left) = larg {
                self.select(left)?;
            }
            if let Some(right) = rarg {
                self.select(right)?;
            }
            Ok(())
        })();
        if scoped {
            self.ctes.pop();
        }
        walked
    }

    /// Walks the CTEs of a WITH clause and leaves a scope frame with their
    /// names pushed for the statement they belong to (the caller pops it).
    /// Scoping follows PostgreSQL exactly: a CTE sees the ones before it,
    /// or, under RECURSIVE, all of its clause.
    fn with(&mut self, with: &pb::WithClause) -> Checked {
        let pb::WithClause {
            ctes,
            recursive,
            location: _,
        } = with;
        let names: Vec<String> = ctes
            .iter()
            .filter_map(|c| match &c.node {
                Some(N::CommonTableExpr(c)) => Some(c.ctename.clone()),
                _ => None,
            })
            .collect();
        if *recursive {
            self.ctes.push(names);
            self.nodes(ctes)
        } else {
            self.ctes.push(Vec::new());
            for (cte, name) in ctes.iter().zip(names) {
                self.node(cte)?;
                if let Some(frame) = self.ctes.last_mut() {
                    frame.push(name);
                }
            }
            Ok(())
        }
    }

    fn cte(&mut self, c: &pb::CommonTableExpr) -> Checked {
        let pb::CommonTableExpr {
            ctename,
            aliascolnames,
            ctematerialized: _,
            ctequery,
            search_clause,
            cycle_clause,
            location: _,
            cterecursive: _,
            cterefcount: _,
            ctecolnames,
            ctecoltypes,
            ctecoltypmods,
            ctecolcollations,
        } = c;
        // Every catalog relation starts with `pg_`; a CTE that shadows one
        // would make the SQL read differently to people than to PostgreSQL.
        if ctename.starts_with("pg_") {
            return reject(format!(
                "the WITH query name `{ctename}` is reserved for system catalogs; choose another"
            ));
        }
        self.nodes(aliascolnames)?;
        match ctequery.as_deref().and_then(|q| q.node.as_ref()) {
            Some(N::SelectStmt(s)) => self.select(s)?,
            Some(other) => return reject(unsupported(other)),
            None => {}
        }
        if let Some(search) = search_clause {
            self.kind(&N::CtesearchClause(search.clone()))?;
        }
        if let Some(cycle) = cycle_clause {
            self.cycle(cycle)?;
        }
        // Filled in by analysis only; empty in a raw parse tree.
        self.nodes(ctecolnames)?;
        self.nodes(ctecoltypes)?;
        self.nodes(ctecoltypmods)?;
        self.nodes(ctecolcollations)
    }

    fn cycle(&mut self, c: &pb::CteCycleClause) -> Checked {
        let pb::CteCycleClause {
            cycle_col_list,
            cycle_mark_column: _,
            cycle_mark_value,
            cycle_mark_default,
            cycle_path_column: _,
            location: _,
            cycle_mark_type: _,
            cycle_mark_typmod: _,
            cycle_mark_collation: _,
            cycle_mark_neop: _,
        } = c;
        self.nodes(cycle_col_list)?;
        self.boxed(cycle_mark_value)?;
        self.boxed(cycle_mark_default)
    }

    fn window(&mut self, w: &pb::WindowDef) -> Checked {
        let pb::WindowDef {
            name: _,
            refname: _,
            partition_clause,
            order_clause,
            frame_options: _,
            start_offset,
            end_offset,
            location: _,
        } = w;
        self.nodes(partition_clause)?;
        self.nodes(order_clause)?;
        self.boxed(start_offset)?;
        self.boxed(end_offset)
    }

    fn call(&mut self, f: &pb::FuncCall) -> Checked {
        let pb::FuncCall {
            funcname,
            args,
            agg_order,
            agg_filter,
            over,
            agg_within_group: _,
            agg_star: _,
            agg_distinct: _,
            func_variadic: _,
            funcformat: _,
            location: _,
        } = f;
        let names = strings(funcname).ok_or_else(|| {
            Rejected("a function call could not be checked (its name is not plain)".into())
        })?;
        let (schema, name) = match names.as_slice() {
            [name] => (None, *name),
            [schema, name] => (Some(*schema), *name),
            _ => {
                return reject(format!(
                    "the function `{}` is not available to queries (too many name parts)",
                    names.join(".")
                ));
            }
        };
        if !self.allow.allows_function(schema, name) {
            return reject(format!(
                "the function `{}` is not available to queries; only {} may be called \
                 (statistics, session, file, lock and timing functions are not). Rewrite the \
                 query without it",
                names.join("."),
                self.allow.summary()
            ));
        }
        self.nodes(args)?;
        self.nodes(agg_order)?;
        self.boxed(agg_filter)?;
        if let Some(window) = over {
            self.window(window)?;
        }
        Ok(())
    }

    /// A name after a dot: a column, or, when it is not one, a call of the
    /// function of that name on what precedes the dot, or a cast to the type
    /// of that name. A name no function or type has cannot be either; one
    /// that is allowlisted is harmless either way.
    fn field_name(&self, field: &pb::Node) -> Checked {
        let Some(N::String(s)) = &field.node else {
            return Ok(());
        };
        let name = s.sval.as_str();
        if self.allow.functions.contains(name)
            || self.allow.types.contains(name)
            || !self.known.contains(name)
        {
            return Ok(());
        }
        reject(format!(
            "`.{name}` would call the function `{name}` or cast to the type `{name}` \
             (PostgreSQL reads `x.{name}` that way when `{name}` is not a column of `x`), \
             which is not available to queries; if you meant a column, give it another name \
             with AS"
        ))
    }

    fn indirection(&mut self, items: &[pb::Node]) -> Checked {
        for item in items {
            match &item.node {
                Some(N::String(_)) => {
                    system_column(item)?;
                    self.field_name(item)?
                }
                _ => self.node(item)?,
            }
        }
        Ok(())
    }

    fn operator(&self, name: &[pb::Node]) -> Checked {
        let parts = strings(name)
            .ok_or_else(|| Rejected("an operator could not be checked".to_string()))?;
        let allowed = match parts.as_slice() {
            [symbol] => self.allow.operators.contains(*symbol),
            [schema, symbol] => {
                FUNCTION_SCHEMAS.contains(schema) && self.allow.operators.contains(*symbol)
            }
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            reject(format!(
                "the operator `{}` is not available to queries; use arithmetic, comparison, \
                 text, pattern, array, JSON, full-text or vector operators",
                parts.join(".")
            ))
        }
    }

    fn type_name(&mut self, t: Option<&pb::TypeName>) -> Checked {
        let Some(t) = t else {
            return reject("a type could not be checked");
        };
        let pb::TypeName {
            names,
            type_oid: _,
            setof,
            pct_type,
            typmods,
            typemod: _,
            array_bounds,
            location: _,
        } = t;
        if *pct_type || *setof {
            return reject("%TYPE and SETOF are not available in queries");
        }
        let parts = strings(names).ok_or_else(|| Rejected("a type could not be checked".into()))?;
        let allowed = match parts.as_slice() {
            [name] => self.allow.allows_type(None, name),
            [schema, name] => self.allow.allows_type(Some(schema), name),
            _ => false,
        };
        if !allowed {
            return reject(format!(
                "the type `{}` is not available to queries; cast to a plain type such as {}",
                parts.join("."),
                self.allow.type_examples()
            ));
        }
        self.nodes(typmods)?;
        self.nodes(array_bounds)
    }

    fn column_def(&mut self, c: &pb::ColumnDef) -> Checked {
        let pb::ColumnDef {
            colname: _,
            type_name,
            compression,
            inhcount: _,
            is_local: _,
            is_not_null: _,
            is_from_type: _,
            storage,
            storage_name,
            raw_default,
            cooked_default,
            identity,
            identity_sequence,
            generated,
            coll_clause,
            coll_oid: _,
            constraints,
            fdwoptions,
            location: _,
        } = c;
        // In a query a column definition only names and types the columns
        // of a function's result (`AS t(a int, b text)`).
        let plain = compression.is_empty()
            && storage.is_empty()
            && storage_name.is_empty()
            && raw_default.is_none()
            && cooked_default.is_none()
            && identity.is_empty()
            && identity_sequence.is_none()
            && generated.is_empty()
            && constraints.is_empty()
            && fdwoptions.is_empty();
        if !plain {
            return reject("column definitions in a query may only name and type columns");
        }
        if let Some(collate) = coll_clause {
            self.kind(&N::CollateClause(collate.clone()))?;
        }
        self.type_name(type_name.as_ref())
    }

    fn relation(&mut self, r: &pb::RangeVar) -> Checked {
        let pb::RangeVar {
            catalogname,
            schemaname,
            relname,
            inh: _,
            relpersistence: _,
            alias,
            location: _,
        } = r;
        self.alias(alias.as_ref())?;
        let name = relname.as_str();
        let allowed = catalogname.is_empty()
            && match schemaname.as_str() {
                // `search_path` is `pg_catalog, retail, public`, and a WITH
                // query in scope comes first of all.
                "" => {
                    self.ctes.iter().flatten().any(|c| c == name)
                        || RETAIL_TABLES.contains(&name)
                        || self
                            .allow
                            .catalog_relations
                            .contains(&format!("pg_catalog.{name}"))
                }
                "retail" => RETAIL_TABLES.contains(&name),
                schema => self
                    .allow
                    .catalog_relations
                    .contains(&format!("{schema}.{name}")),
            };
        if allowed {
            return Ok(());
        }
        let qualified = [catalogname.as_str(), schemaname.as_str(), name]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(".");
        reject(format!(
            "`{qualified}` is not available to queries; use the retail tables ({})",
            RETAIL_TABLES
                .iter()
                .map(|t| format!("retail.{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    fn alias(&mut self, alias: Option<&pb::Alias>) -> Checked {
        if let Some(pb::Alias {
            aliasname: _,
            colnames,
        }) = alias
        {
            self.nodes(colnames)?;
        }
        Ok(())
    }

    fn json_value(&mut self, v: Option<&pb::JsonValueExpr>) -> Checked {
        let Some(pb::JsonValueExpr {
            raw_expr,
            formatted_expr,
            format: _,
        }) = v
        else {
            return Ok(());
        };
        self.boxed(raw_expr)?;
        self.boxed(formatted_expr)
    }

    fn json_key_value(&mut self, kv: &pb::JsonKeyValue) -> Checked {
        let pb::JsonKeyValue { key, value } = kv;
        self.boxed(key)?;
        self.json_value(value.as_deref())
    }

    fn json_output(&mut self, o: Option<&pb::JsonOutput>) -> Checked {
        let Some(pb::JsonOutput {
            type_name,
            returning: _,
        }) = o
        else {
            return Ok(());
        };
        match type_name {
            Some(t) => self.type_name(Some(t)),
            None => Ok(()),
        }
    }

    fn json_behavior(&mut self, b: Option<&pb::JsonBehavior>) -> Checked {
        let Some(pb::JsonBehavior {
            btype: _,
            expr,
            coerce: _,
            location: _,
        }) = b
        else {
            return Ok(());
        };
        self.boxed(expr)
    }

    fn json_aggregate(&mut self, c: Option<&pb::JsonAggConstructor>) -> Checked {
        let Some(pb::JsonAggConstructor {
            output,
            agg_filter,
            agg_order,
            over,
            location: _,
        }) = c
        else {
            return Ok(());
        };
        self.json_output(output.as_ref())?;
        self.boxed(agg_filter)?;
        self.nodes(agg_order)?;
        match over {
            Some(w) => self.window(w),
            None => Ok(()),
        }
    }

    fn json_path_spec(&mut self, p: Option<&pb::JsonTablePathSpec>) -> Checked {
        let Some(pb::JsonTablePathSpec {
            string,
            name: _,
            name_location: _,
            location: _,
        }) = p
        else {
            return Ok(());
        };
        self.boxed(string)
    }
}

/// PostgreSQL's system columns: where a row sits (`ctid`) and which
/// transactions wrote it (`xmin`, `xmax`, ...) say how many rows Row Level
/// Security hides around it — the gaps between one store's `ctid`s count
/// the other stores' orders.
const SYSTEM_COLUMNS: &[&str] = &["ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"];

fn system_column(field: &pb::Node) -> Checked {
    match &field.node {
        Some(N::String(s)) if SYSTEM_COLUMNS.contains(&s.sval.as_str()) => reject(format!(
            "the system column `{}` is not available to queries (it tells where rows other \
             callers may not see are stored); select the table's own columns",
            s.sval
        )),
        _ => Ok(()),
    }
}

/// The names of a name list (`funcname`, `names`, an operator), if every
/// item is a plain string.
fn strings(nodes: &[pb::Node]) -> Option<Vec<&str>> {
    nodes
        .iter()
        .map(|n| match &n.node {
            Some(N::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect()
}

/// Why a node kind outside the walk is refused, in the caller's terms.
pub(super) fn unsupported(node: &N) -> String {
    let statement = |kind: &str| {
        format!("data-modifying statements are not allowed (found {kind} inside the query)")
    };
    match node {
        N::InsertStmt(_) => statement("an INSERT statement"),
        N::UpdateStmt(_) => statement("an UPDATE statement"),
        N::DeleteStmt(_) => statement("a DELETE statement"),
        N::MergeStmt(_) => statement("a MERGE statement"),
        N::XmlExpr(_) | N::XmlSerialize(_) | N::RangeTableFunc(_) => {
            "XML functions are not available to queries".into()
        }
        N::RangeTableSample(_) => "TABLESAMPLE is not available to queries".into(),
        other => {
            // The variant's name, without formatting its whole subtree.
            format!(
                "{} is not supported in queries; write a plain SELECT",
                variant_name(other)
            )
        }
    }
}

fn variant_name(node: &N) -> &'static str {
    match node {
        N::SetToDefault(_) => "DEFAULT",
        N::MultiAssignRef(_) => "multiple-column assignment",
        N::CurrentOfExpr(_) => "CURRENT OF",
        N::MergeSupportFunc(_) => "MERGE_ACTION()",
        N::TableLikeClause(_) => "LIKE table",
        N::ReturningClause(_) | N::ReturningOption(_) => "RETURNING",
        _ => "this construct",
    }
}
