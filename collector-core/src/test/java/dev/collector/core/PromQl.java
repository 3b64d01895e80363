package dev.collector.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict parser for the PromQL the dashboard uses, with Grafana's variables: instant and range
 * vector selectors, label matchers, function calls (checked against PromQL's signatures),
 * aggregations with {@code by}/{@code without}, binary operators with {@code on}/{@code
 * ignoring}/{@code group_left}/{@code group_right}, numbers and strings. Range selectors accept a
 * PromQL duration or a Grafana interval variable ({@code $__rate_interval}, {@code $__interval},
 * {@code $__range}). Anything else (subqueries, {@code @}, an unknown function, a type error such
 * as {@code rate} of an instant vector) is a {@link ParseException}. Test code: it lets the build
 * check every dashboard query without a Prometheus installed.
 */
final class PromQl {

  /** The value types of PromQL. */
  enum Type {
    SCALAR,
    STRING,
    VECTOR,
    MATRIX
  }

  /** A parsed expression. */
  sealed interface Expr {
    Type type();
  }

  /** A label matcher: {@code name op "value"}. */
  record LabelMatcher(String label, String op, String value) {}

  /**
   * {@code metric{matchers}} or, with {@code range}, {@code metric{matchers}[range]}; {@code range}
   * is the text between the brackets.
   */
  record Selector(String metric, List<LabelMatcher> matchers, String range, String offset)
      implements Expr {
    @Override
    public Type type() {
      return range.isEmpty() ? Type.VECTOR : Type.MATRIX;
    }
  }

  /** A function call. */
  record Call(String function, List<Expr> args, Type type) implements Expr {}

  /** {@code op by (labels) (param, expr)}; {@code grouping} is "by", "without" or "". */
  record Aggregation(String op, String grouping, List<String> labels, List<Expr> args)
      implements Expr {
    @Override
    public Type type() {
      return Type.VECTOR;
    }

    Expr operand() {
      return args.get(args.size() - 1);
    }
  }

  /** {@code lhs op rhs}; {@code matching} is "on", "ignoring" or "". */
  record Binary(
      String op,
      Expr lhs,
      Expr rhs,
      boolean bool,
      String matching,
      List<String> matchingLabels,
      String group)
      implements Expr {
    @Override
    public Type type() {
      return lhs.type() == Type.SCALAR && rhs.type() == Type.SCALAR ? Type.SCALAR : Type.VECTOR;
    }
  }

  /** {@code -expr}. */
  record Negation(Expr operand) implements Expr {
    @Override
    public Type type() {
      return operand.type();
    }
  }

  /** A number. */
  record NumberLiteral(double value) implements Expr {
    @Override
    public Type type() {
      return Type.SCALAR;
    }
  }

  /** A string. */
  record StringLiteral(String value) implements Expr {
    @Override
    public Type type() {
      return Type.STRING;
    }
  }

  /** Malformed or ill-typed PromQL. */
  static final class ParseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ParseException(String message, String input, int at) {
      super(message + " at " + at + " in: " + input);
    }
  }

  private static final Set<String> AGGREGATIONS =
      Set.of(
          "sum",
          "min",
          "max",
          "avg",
          "group",
          "stddev",
          "stdvar",
          "count",
          "count_values",
          "bottomk",
          "topk",
          "quantile");
  private static final Set<String> PARAMETRIC =
      Set.of("count_values", "bottomk", "topk", "quantile");

  /**
   * PromQL's functions and their argument types ("v" instant vector, "m" range vector, "s" scalar,
   * "t" string; a trailing "?" marks the optional rest) and result type.
   */
  private static final Map<String, String> FUNCTIONS =
      Map.ofEntries(
          Map.entry("rate", "m:v"),
          Map.entry("irate", "m:v"),
          Map.entry("increase", "m:v"),
          Map.entry("delta", "m:v"),
          Map.entry("idelta", "m:v"),
          Map.entry("deriv", "m:v"),
          Map.entry("changes", "m:v"),
          Map.entry("resets", "m:v"),
          Map.entry("avg_over_time", "m:v"),
          Map.entry("min_over_time", "m:v"),
          Map.entry("max_over_time", "m:v"),
          Map.entry("sum_over_time", "m:v"),
          Map.entry("count_over_time", "m:v"),
          Map.entry("last_over_time", "m:v"),
          Map.entry("quantile_over_time", "sm:v"),
          Map.entry("histogram_quantile", "sv:v"),
          Map.entry("abs", "v:v"),
          Map.entry("ceil", "v:v"),
          Map.entry("floor", "v:v"),
          Map.entry("round", "v?s:v"),
          Map.entry("sqrt", "v:v"),
          Map.entry("exp", "v:v"),
          Map.entry("ln", "v:v"),
          Map.entry("log2", "v:v"),
          Map.entry("log10", "v:v"),
          Map.entry("clamp", "vss:v"),
          Map.entry("clamp_min", "vs:v"),
          Map.entry("clamp_max", "vs:v"),
          Map.entry("absent", "v:v"),
          Map.entry("sort", "v:v"),
          Map.entry("sort_desc", "v:v"),
          Map.entry("timestamp", "v:v"),
          Map.entry("vector", "s:v"),
          Map.entry("scalar", "v:s"),
          Map.entry("time", ":s"),
          Map.entry("label_replace", "vtttt:v"));

  private static final Pattern IDENT = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern NUMBER =
      Pattern.compile("[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+");
  private static final Pattern RANGE =
      Pattern.compile("([0-9]+(ms|s|m|h|d|w|y))+|\\$__rate_interval|\\$__interval|\\$__range");

  private final String input;
  private int pos;

  private PromQl(String input) {
    this.input = input;
  }

  /** Parses {@code expr}: one complete expression of instant-vector or scalar type. */
  static Expr parse(String expr) {
    PromQl p = new PromQl(expr);
    Expr e = p.expression(0);
    p.skipSpace();
    if (p.pos != expr.length()) {
      throw p.error("unexpected '" + expr.substring(p.pos) + "'");
    }
    if (e.type() != Type.VECTOR && e.type() != Type.SCALAR) {
      throw p.error("a query must be an instant vector or a scalar, was " + e.type());
    }
    return e;
  }

  /** Every selector in {@code e}, depth first. */
  static List<Selector> selectors(Expr e) {
    List<Selector> out = new ArrayList<>();
    collect(e, out);
    return out;
  }

  private static void collect(Expr e, List<Selector> out) {
    switch (e) {
      case Selector s -> out.add(s);
      case Call c -> c.args().forEach(a -> collect(a, out));
      case Aggregation a -> a.args().forEach(x -> collect(x, out));
      case Binary b -> {
        collect(b.lhs(), out);
        collect(b.rhs(), out);
      }
      case Negation n -> collect(n.operand(), out);
      case NumberLiteral n -> {}
      case StringLiteral s -> {}
    }
  }

  // ---- the parser --------------------------------------------------------------------------

  /** Precedence of binary operators; higher binds tighter. */
  private static int precedence(String op) {
    return switch (op) {
      case "or" -> 1;
      case "and", "unless" -> 2;
      case "==", "!=", "<=", "<", ">=", ">" -> 3;
      case "+", "-" -> 4;
      case "*", "/", "%", "atan2" -> 5;
      case "^" -> 6;
      default -> -1;
    };
  }

  private Expr expression(int minPrecedence) {
    Expr lhs = unary();
    while (true) {
      int save = pos;
      String op = binaryOperator();
      if (op == null || precedence(op) < minPrecedence) {
        pos = save;
        return lhs;
      }
      boolean bool = keyword("bool");
      if (bool && precedence(op) != 3) {
        throw error("bool is only for comparisons");
      }
      String matching = keyword("on") ? "on" : keyword("ignoring") ? "ignoring" : "";
      List<String> matchingLabels = matching.isEmpty() ? List.of() : labelList();
      String group =
          keyword("group_left") ? "group_left" : keyword("group_right") ? "group_right" : "";
      if (!group.isEmpty()) {
        if (matching.isEmpty()) {
          throw error(group + " needs on() or ignoring()");
        }
        skipSpace();
        if (peek('(')) {
          labelList();
        }
      }
      // ^ is right-associative; everything else left-associative
      Expr rhs = expression(op.equals("^") ? precedence(op) : precedence(op) + 1);
      for (Expr side : List.of(lhs, rhs)) {
        if (side.type() != Type.VECTOR && side.type() != Type.SCALAR) {
          throw error("operand of '" + op + "' must be a vector or a scalar, was " + side.type());
        }
      }
      boolean setOp = Set.of("and", "or", "unless").contains(op);
      if (setOp && (lhs.type() != Type.VECTOR || rhs.type() != Type.VECTOR)) {
        throw error("'" + op + "' needs two vectors");
      }
      if (!matching.isEmpty() && (lhs.type() != Type.VECTOR || rhs.type() != Type.VECTOR)) {
        throw error("vector matching needs two vectors");
      }
      lhs = new Binary(op, lhs, rhs, bool, matching, matchingLabels, group);
    }
  }

  private String binaryOperator() {
    skipSpace();
    for (String op : List.of("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "^")) {
      if (input.startsWith(op, pos)) {
        pos += op.length();
        return op;
      }
    }
    for (String op : List.of("and", "or", "unless", "atan2")) {
      if (keyword(op)) {
        return op;
      }
    }
    return null;
  }

  private Expr unary() {
    skipSpace();
    if (peek('-') || peek('+')) {
      boolean minus = input.charAt(pos) == '-';
      pos++;
      Expr operand = unary();
      if (operand.type() != Type.VECTOR && operand.type() != Type.SCALAR) {
        throw error("unary operator on " + operand.type());
      }
      return minus ? new Negation(operand) : operand;
    }
    return postfix(primary());
  }

  /** A range, offset after a selector. */
  private Expr postfix(Expr e) {
    skipSpace();
    if (peek('[')) {
      if (!(e instanceof Selector s) || !s.range().isEmpty()) {
        throw error("a range needs a plain vector selector (subqueries are not supported)");
      }
      pos++;
      skipSpace();
      Matcher m = RANGE.matcher(input).region(pos, input.length());
      if (!m.lookingAt()) {
        throw error("expected a duration or a Grafana interval variable");
      }
      String range = m.group();
      pos = m.end();
      skipSpace();
      expect(']');
      e = new Selector(s.metric(), s.matchers(), range, s.offset());
      skipSpace();
    }
    if (e instanceof Selector s && keyword("offset")) {
      skipSpace();
      Matcher m = RANGE.matcher(input).region(pos, input.length());
      if (!m.lookingAt()) {
        throw error("expected an offset duration");
      }
      pos = m.end();
      e = new Selector(s.metric(), s.matchers(), s.range(), m.group());
    }
    skipSpace();
    if (peek('@')) {
      throw error("'@' is not supported");
    }
    return e;
  }

  private Expr primary() {
    skipSpace();
    if (pos >= input.length()) {
      throw error("unexpected end");
    }
    char c = input.charAt(pos);
    if (c == '(') {
      pos++;
      Expr e = expression(0);
      skipSpace();
      expect(')');
      return e;
    }
    if (c == '"' || c == '\'' || c == '`') {
      return new StringLiteral(string());
    }
    Matcher number = NUMBER.matcher(input).region(pos, input.length());
    if (Character.isDigit(c) && number.lookingAt()) {
      pos = number.end();
      return new NumberLiteral(Double.parseDouble(number.group()));
    }
    if (c == '{') {
      throw error("a selector without a metric name");
    }
    String name = identifier();
    skipSpace();
    if (AGGREGATIONS.contains(name)) {
      return aggregation(name);
    }
    if (peek('(')) {
      return call(name);
    }
    if (Set.of(
            "by",
            "without",
            "on",
            "ignoring",
            "group_left",
            "group_right",
            "bool",
            "offset",
            "and",
            "or",
            "unless")
        .contains(name)) {
      throw error("keyword '" + name + "' where an expression belongs");
    }
    List<PromQl.LabelMatcher> matchers = peek('{') ? matchers() : List.of();
    return new Selector(name, matchers, "", "");
  }

  private Expr aggregation(String op) {
    String grouping = grouping();
    List<String> labels = grouping.isEmpty() ? List.of() : labelList();
    List<Expr> args = commaSeparated('(', ')', () -> expression(0));
    if (grouping.isEmpty()) {
      grouping = grouping();
      labels = grouping.isEmpty() ? List.of() : labelList();
    }
    int want = PARAMETRIC.contains(op) ? 2 : 1;
    if (args.size() != want) {
      throw error(op + " takes " + want + " argument(s), got " + args.size());
    }
    if (args.get(args.size() - 1).type() != Type.VECTOR) {
      throw error(op + " aggregates an instant vector");
    }
    return new Aggregation(op, grouping, labels, args);
  }

  private String grouping() {
    return keyword("by") ? "by" : keyword("without") ? "without" : "";
  }

  private Expr call(String function) {
    String signature = FUNCTIONS.get(function);
    if (signature == null) {
      throw error("unknown function '" + function + "'");
    }
    List<Expr> args = commaSeparated('(', ')', () -> expression(0));
    String params = signature.substring(0, signature.indexOf(':'));
    int optionalFrom = params.indexOf('?');
    String types = params.replace("?", "");
    int required = optionalFrom < 0 ? types.length() : optionalFrom;
    if (args.size() < required || args.size() > types.length()) {
      throw error(function + "() takes " + types.length() + " argument(s), got " + args.size());
    }
    for (int i = 0; i < args.size(); i++) {
      Type want =
          switch (types.charAt(i)) {
            case 'v' -> Type.VECTOR;
            case 'm' -> Type.MATRIX;
            case 's' -> Type.SCALAR;
            default -> Type.STRING;
          };
      if (args.get(i).type() != want) {
        throw error(
            function
                + "() argument "
                + (i + 1)
                + " must be "
                + want
                + ", was "
                + args.get(i).type());
      }
    }
    Type result = signature.endsWith(":s") ? Type.SCALAR : Type.VECTOR;
    return new Call(function, args, result);
  }

  private List<PromQl.LabelMatcher> matchers() {
    return commaSeparated('{', '}', this::matcher);
  }

  private PromQl.LabelMatcher matcher() {
    String label = identifier();
    skipSpace();
    String op = null;
    for (String o : List.of("=~", "!~", "!=", "=")) {
      if (input.startsWith(o, pos)) {
        op = o;
        break;
      }
    }
    if (op == null) {
      throw error("expected a matcher operator");
    }
    pos += op.length();
    skipSpace();
    String value = string();
    if (op.endsWith("~")) {
      try {
        // Grafana replaces variables before Prometheus compiles the regex
        Pattern.compile(value.replaceAll("\\$\\{?[a-zA-Z_]+}?", "x"));
      } catch (java.util.regex.PatternSyntaxException e) {
        throw error("bad regex " + value + ": " + e.getDescription());
      }
    }
    return new PromQl.LabelMatcher(label, op, value);
  }

  private List<String> labelList() {
    return commaSeparated('(', ')', this::identifier);
  }

  /** {@code open item, item, ... close}; the callers check how many items they need. */
  private <E> List<E> commaSeparated(char open, char close, Supplier<E> item) {
    skipSpace();
    expect(open);
    List<E> out = new ArrayList<>();
    skipSpace();
    while (!peek(close)) {
      out.add(item.get());
      skipSpace();
      if (peek(',')) {
        pos++;
        skipSpace();
      } else if (!peek(close)) {
        throw error("expected ',' or '" + close + "'");
      }
    }
    pos++;
    return List.copyOf(out);
  }

  private String string() {
    if (pos >= input.length()) {
      throw error("expected a string");
    }
    char quote = input.charAt(pos);
    if (quote != '"' && quote != '\'' && quote != '`') {
      throw error("expected a string");
    }
    StringBuilder out = new StringBuilder();
    pos++;
    while (pos < input.length() && input.charAt(pos) != quote) {
      char c = input.charAt(pos++);
      if (c == '\\' && quote != '`') {
        if (pos >= input.length()) {
          break;
        }
        char escaped = input.charAt(pos++);
        out.append(
            switch (escaped) {
              case 'n' -> '\n';
              case 't' -> '\t';
              case '\\', '"', '\'' -> escaped;
              default -> throw error("unknown escape \\" + escaped);
            });
      } else {
        out.append(c);
      }
    }
    if (pos >= input.length()) {
      throw error("unterminated string");
    }
    pos++;
    return out.toString();
  }

  private String identifier() {
    skipSpace();
    Matcher m = IDENT.matcher(input).region(pos, input.length());
    if (!m.lookingAt()) {
      throw error("expected a name");
    }
    pos = m.end();
    return m.group();
  }

  /** Consumes {@code word} if it comes next as a whole word. */
  private boolean keyword(String word) {
    skipSpace();
    if (!input.startsWith(word, pos)) {
      return false;
    }
    int end = pos + word.length();
    if (end < input.length()
        && (Character.isLetterOrDigit(input.charAt(end)) || input.charAt(end) == '_')) {
      return false;
    }
    pos = end;
    return true;
  }

  private boolean peek(char c) {
    return pos < input.length() && input.charAt(pos) == c;
  }

  private void expect(char c) {
    if (!peek(c)) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private void skipSpace() {
    while (pos < input.length() && Character.isWhitespace(input.charAt(pos))) {
      pos++;
    }
  }

  private ParseException error(String message) {
    return new ParseException(message, input, pos);
  }
}
