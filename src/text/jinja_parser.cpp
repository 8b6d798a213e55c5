#include "text/jinja_parser.h"

#include "text/jinja_expression_parser.h"
#include "text/jinja_lexer.h"

namespace prefer::text::jinja {

namespace {

template <typename Node>
StmtPtr make_stmt(SourcePos pos, Node node) {
  auto s = std::make_unique<Stmt>();
  s->pos = pos;
  s->node = std::move(node);
  return s;
}

// Statements: the template's text, `{{ ... }}` and `{% ... %}` blocks; expressions go to
// ExpressionParser.
class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& origin) : c_(std::move(tokens), origin), x_(c_) {}

  Body parse_all() {
    Body body;
    parse_body(body, {}, nullptr);
    return body;
  }

 private:
  TokenCursor c_;
  ExpressionParser x_;
  int loop_depth_ = 0;

  // Parses until `{% <one of ends> ...` (left unconsumed) or, with no ends, the end of the template.
  void parse_body(Body& out, std::initializer_list<const char*> ends, const Token* opener) {
    auto is_end = [&](const std::string& name) {
      for (const char* e : ends)
        if (name == e) return true;
      return false;
    };
    auto expected = [&] {
      std::string s;
      for (const char* e : ends) s += (s.empty() ? "'" : " or '") + std::string(e) + "'";
      return s;
    };
    while (true) {
      const Token& t = c_.peek();
      switch (t.kind) {
        case TokenKind::Text:
          out.push_back(make_stmt(t.pos, ast::Text{t.value}));
          c_.next();
          break;
        case TokenKind::VariableBegin: {
          c_.next();
          ExprPtr e = x_.tuple(true, false);
          if (c_.peek().kind != TokenKind::VariableEnd) c_.fail(c_.peek(), "expected '}}', got " + describe(c_.peek()));
          c_.next();
          out.push_back(make_stmt(t.pos, ast::Output{std::move(e)}));
          break;
        }
        case TokenKind::BlockBegin: {
          const Token& name = c_.peek(1);
          if (name.kind != TokenKind::Name) c_.fail(name, "expected a statement name after '{%', got " + describe(name));
          if (is_end(name.value)) return;
          const std::string& n = name.value;
          if (n.rfind("end", 0) == 0 || n == "elif" || n == "else") {
            std::string msg = "unexpected '" + n + "'";
            if (opener) msg += " (expected " + expected() + " to close the '" + opener->value + "' on line " + std::to_string(opener->pos.line) + ")";
            c_.fail(name, msg);
          }
          c_.next();
          TokenCursor::Nest nest(c_, name);
          parse_statement(out);
          break;
        }
        case TokenKind::End:
          if (ends.size() == 0) return;
          c_.fail(*opener, "'" + opener->value + "' is never closed: expected " + expected());
        default:
          c_.fail(t, "unexpected " + describe(t));
      }
    }
  }

  // Consumes `{% name %}` (an end tag or else); for endmacro an optional repeated name is allowed.
  void end_tag(const char* name) {
    c_.next();  // {%
    c_.next();  // the name
    if (std::string(name) == "endmacro" && c_.peek().kind == TokenKind::Name) c_.next();
    c_.expect_block_end();
  }

  void parse_statement(Body& out) {
    const Token& tok = c_.next();
    const std::string& name = tok.value;
    SourcePos pos = tok.pos;
    if (name == "if") {
      out.push_back(make_stmt(pos, parse_if(tok)));
    } else if (name == "for") {
      out.push_back(make_stmt(pos, parse_for(tok)));
    } else if (name == "set") {
      parse_set(tok, out);
    } else if (name == "macro") {
      out.push_back(make_stmt(pos, parse_macro(tok)));
    } else if (name == "filter") {
      ast::FilterBlock fb;
      do fb.filters.push_back(x_.filter_call());
      while (c_.skip_op("|"));
      c_.expect_block_end();
      parse_body(fb.body, {"endfilter"}, &tok);
      end_tag("endfilter");
      out.push_back(make_stmt(pos, std::move(fb)));
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) c_.fail(tok, "'" + name + "' outside of a loop");
      c_.expect_block_end();
      if (name == "break") out.push_back(make_stmt(pos, ast::Break{}));
      else out.push_back(make_stmt(pos, ast::Continue{}));
    } else if (name == "generation") {
      // transformers' AssistantTracker tag: it marks assistant text for masks and renders its body.
      c_.expect_block_end();
      parse_body(out, {"endgeneration"}, &tok);
      end_tag("endgeneration");
    } else if (name == "call" || name == "include" || name == "import" || name == "from" || name == "extends" ||
               name == "block" || name == "with" || name == "autoescape" || name == "do" || name == "trans") {
      c_.fail(tok, "'" + name + "' statements are not supported in chat templates");
    } else {
      c_.fail(tok, "unknown statement '" + name + "'");
    }
  }

  ast::If parse_if(const Token& opener) {
    ast::If node;
    ExprPtr cond = x_.tuple(false, false);
    c_.expect_block_end();
    Body body;
    parse_body(body, {"elif", "else", "endif"}, &opener);
    node.branches.emplace_back(std::move(cond), std::move(body));
    while (true) {
      const std::string& tag = c_.peek(1).value;
      if (tag == "elif") {
        c_.next(), c_.next();
        ExprPtr c = x_.tuple(false, false);
        c_.expect_block_end();
        Body b;
        parse_body(b, {"elif", "else", "endif"}, &opener);
        node.branches.emplace_back(std::move(c), std::move(b));
      } else if (tag == "else") {
        c_.next(), c_.next();
        c_.expect_block_end();
        parse_body(node.otherwise, {"endif"}, &opener);
      } else {
        end_tag("endif");
        return node;
      }
    }
  }

  ast::For parse_for(const Token& opener) {
    ast::For node;
    node.target = parse_assign_target(false);
    if (!c_.skip_name("in")) c_.fail(c_.peek(), "expected 'in' after the loop variable, got " + describe(c_.peek()));
    node.iterable = x_.tuple(false, false, {"recursive"});
    if (c_.skip_name("if")) node.condition = x_.expression();
    if (c_.is_name("recursive")) c_.fail(c_.peek(), "recursive loops are not supported in chat templates");
    c_.expect_block_end();
    ++loop_depth_;
    parse_body(node.body, {"endfor", "else"}, &opener);
    --loop_depth_;
    if (c_.peek(1).value == "else") {
      c_.next(), c_.next();
      c_.expect_block_end();
      parse_body(node.otherwise, {"endfor"}, &opener);
    }
    end_tag("endfor");
    return node;
  }

  void parse_set(const Token& opener, Body& out) {
    AssignTarget target = parse_assign_target(true);
    if (c_.skip_op("=")) {
      ExprPtr value = x_.tuple(true, false);
      c_.expect_block_end();
      out.push_back(make_stmt(opener.pos, ast::Set{std::move(target), std::move(value)}));
      return;
    }
    ast::SetBlock node;
    node.target = std::move(target);
    while (c_.skip_op("|")) node.filters.push_back(x_.filter_call());
    c_.expect_block_end();
    parse_body(node.body, {"endset"}, &opener);
    end_tag("endset");
    out.push_back(make_stmt(opener.pos, std::move(node)));
  }

  ast::Macro parse_macro(const Token& opener) {
    ast::Macro node;
    node.name = c_.expect_name().value;
    c_.expect_op("(");
    bool seen_default = false;
    while (!c_.is_op(")")) {
      if (!node.params.empty()) {
        c_.expect_op(",");
        if (c_.is_op(")")) break;
      }
      const Token& p = c_.expect_name();
      ExprPtr def;
      if (c_.skip_op("=")) {
        def = x_.expression();
        seen_default = true;
      } else if (seen_default) {
        c_.fail(p, "parameter without a default follows one with a default");
      }
      node.params.emplace_back(p.value, std::move(def));
    }
    c_.expect_op(")");
    c_.expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    parse_body(node.body, {"endmacro"}, &opener);
    loop_depth_ = saved;
    end_tag("endmacro");
    return node;
  }

  // `x`, `a, b`, `(a, b)`, and with `with_namespace` also `ns.attr`.
  AssignTarget parse_assign_target(bool with_namespace) {
    AssignTarget t;
    bool paren = c_.skip_op("(");
    while (true) {
      const Token& n = c_.expect_name();
      if (is_keyword(n.value) || n.value == "true" || n.value == "false" || n.value == "none")
        c_.fail(n, "cannot assign to '" + n.value + "'");
      t.names.push_back(n.value);
      if (with_namespace && !paren && t.names.size() == 1 && c_.is_op(".")) {
        c_.next();
        t.attribute = c_.expect_name().value;
        return t;
      }
      if (!c_.skip_op(",")) break;
      t.unpack = true;
      if (c_.is_op(")") || c_.is_op("=") || c_.is_name("in") || c_.peek().kind == TokenKind::BlockEnd) break;
    }
    if (paren) {
      c_.expect_op(")");
      t.unpack = true;
    }
    return t;
  }
};

}  // namespace

std::shared_ptr<const Template> parse_template(std::string_view source, std::string origin) {
  auto t = std::make_shared<Template>();
  t->origin = std::move(origin);
  t->body = Parser(tokenize(source, t->origin), t->origin).parse_all();
  return t;
}

}  // namespace prefer::text::jinja
