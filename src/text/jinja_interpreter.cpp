#include "text/jinja_interpreter.h"

#include <memory>

#include "text/jinja_filters.h"
#include "text/jinja_methods.h"
#include "text/jinja_operators.h"
#include "text/jinja_tests.h"

namespace prefer::text::jinja {

namespace {

constexpr int kMaxMacroDepth = 100;          // recursion guard for macros that call themselves
constexpr int64_t kMaxRange = 100000;        // Jinja2's sandbox limit for range()

class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent = nullptr) : parent_(std::move(parent)) {}
  const Value* find(std::string_view name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent_.get())
      for (const auto& [k, v] : s->vars_)
        if (k == name) return &v;
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& [k, old] : vars_) {
      if (k == name) {
        old = std::move(v);
        return;
      }
    }
    vars_.emplace_back(name, std::move(v));
  }
  void clear() { vars_.clear(); }

 private:
  std::shared_ptr<Scope> parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
 public:
  Interpreter(const Template& t, const RenderSettings& settings) : tmpl_(t), settings_(settings) {}

  ~Interpreter() {
    // Macros hold their defining scope and scopes hold the macros; namespaces may hold themselves.
    // Clearing both at the end breaks those reference cycles.
    for (auto& s : macro_scopes_) s->clear();
    for (auto& ns : namespaces_) ns.namespace_entries().clear();
  }

  std::string run(const ValueDict& variables) {
    auto globals = std::make_shared<Scope>();
    define_globals(*globals);
    auto top = std::make_shared<Scope>(globals);
    for (const auto& [k, v] : variables.entries()) top->set(k, v);
    std::string out;
    try {
      exec(tmpl_.body, top, out);
    } catch (const RaisedByTemplate& e) {
      throw Error(e.what(), {.file = tmpl_.origin, .line = at_.line, .field = {},
                             .hint = "raised by the chat template's raise_exception() at column " + std::to_string(at_.column)});
    } catch (const EvalError& e) {
      throw template_error(tmpl_.origin, at_, e.what());
    }
    return out;
  }

 private:
  enum class Flow { Normal, Break, Continue };

  const Template& tmpl_;
  const RenderSettings& settings_;
  SourcePos at_;  // the node being evaluated, for errors
  int macro_depth_ = 0;
  std::vector<ScopePtr> macro_scopes_;
  std::vector<Value> namespaces_;

  void define_globals(Scope& g) {
    g.set("range", Value::callable("range", [](CallArgs& args) {
      BoundArgs a("range", args, {"start", "stop", "step"});
      if (!a.given(0)) throw EvalError("range expected at least 1 argument, got 0");
      int64_t start = a.int_or(0, 0), stop = a.int_or(1, 0), step = a.int_or(2, 1);
      if (!a.given(1)) stop = start, start = 0;
      if (step == 0) throw EvalError("range() arg 3 must not be zero");
      std::vector<Value> out;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (static_cast<int64_t>(out.size()) >= kMaxRange) throw EvalError("range too big, the limit is 100000 items");
        out.push_back(Value::integer(i));
      }
      return Value::list(std::move(out));
    }));
    g.set("namespace", Value::callable("namespace", [this](CallArgs& args) {
      Value ns = Value::make_namespace(dict_from_args("namespace", args));
      namespaces_.push_back(ns);
      return ns;
    }));
    g.set("dict", Value::callable("dict", [](CallArgs& args) { return Value::dict(dict_from_args("dict", args)); }));
    g.set("raise_exception", Value::callable("raise_exception", [](CallArgs& args) -> Value {
      BoundArgs a("raise_exception", args, {"message"});
      throw RaisedByTemplate(a.given(0) ? to_str(*a.get(0)) : "");
    }));
    g.set("strftime_now", Value::callable("strftime_now", [this](CallArgs& args) {
      BoundArgs a("strftime_now", args, {"format"});
      return Value::string(strftime_now(a.string_or(0, "")));
    }));
  }

  // dict(mapping or pairs, **kwargs), as Python's dict() and Jinja2's namespace() take them.
  static ValueDict dict_from_args(const char* fn, const CallArgs& args) {
    ValueDict d;
    if (args.positional.size() > 1) throw EvalError(std::string(fn) + "() takes at most 1 positional argument");
    if (!args.positional.empty()) {
      const Value& src = args.positional[0];
      if (src.is_dict() || src.is_namespace()) {
        for (const auto& [k, v] : src.as_dict().entries()) d.set(k, v);
      } else {
        for (const Value& pair : iterate(src)) {
          if (!pair.is_list() || pair.as_list().size() != 2 || !pair.as_list()[0].is_string())
            throw EvalError(std::string(fn) + "(): expected a mapping or (key, value) pairs with string keys");
          d.set(pair.as_list()[0].as_string(), pair.as_list()[1]);
        }
      }
    }
    for (const auto& [k, v] : args.keyword) d.set(k, v);
    return d;
  }

  std::string strftime_now(const std::string& format) const {
    std::time_t now = settings_.clock ? settings_.clock() : std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    if (format.empty()) return "";
    for (size_t size = 256; size <= (1u << 16); size *= 4) {
      std::string buf(size, '\0');
      size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &tm);
      if (n > 0) return buf.substr(0, n);
    }
    return "";  // the format produces nothing (e.g. only "%p" in a locale without AM/PM)
  }

  // ---- statements -----------------------------------------------------------------------------------

  Flow exec(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& s : body) {
      Flow f = exec(*s, scope, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    if (auto* n = std::get_if<ast::Text>(&stmt.node)) {
      out += n->text;
    } else if (auto* n = std::get_if<ast::Output>(&stmt.node)) {
      Value v = eval(*n->expr, scope);
      if (v.is_string()) out += v.as_string();
      else out += to_str(v);
    } else if (auto* n = std::get_if<ast::If>(&stmt.node)) {
      for (const auto& [cond, body] : n->branches)
        if (eval(*cond, scope).truthy()) return exec(body, scope, out);
      return exec(n->otherwise, scope, out);
    } else if (auto* n = std::get_if<ast::For>(&stmt.node)) {
      exec_for(*n, scope, out);
    } else if (auto* n = std::get_if<ast::Set>(&stmt.node)) {
      Value v = eval(*n->value, scope);
      at_ = stmt.pos;
      assign(n->target, std::move(v), *scope);
    } else if (auto* n = std::get_if<ast::SetBlock>(&stmt.node)) {
      Value v = Value::string(render_block(n->body, scope));
      v = apply_filters(n->filters, std::move(v), scope);
      at_ = stmt.pos;
      assign(n->target, std::move(v), *scope);
    } else if (auto* n = std::get_if<ast::Macro>(&stmt.node)) {
      scope->set(n->name, make_macro(*n, scope));
      macro_scopes_.push_back(scope);
    } else if (auto* n = std::get_if<ast::FilterBlock>(&stmt.node)) {
      out += to_str(apply_filters(n->filters, Value::string(render_block(n->body, scope)), scope));
    } else if (std::holds_alternative<ast::Break>(stmt.node)) {
      return Flow::Break;
    } else if (std::holds_alternative<ast::Continue>(stmt.node)) {
      return Flow::Continue;
    }
    return Flow::Normal;
  }

  std::string render_block(const Body& body, const ScopePtr& scope) {
    std::string text;
    exec(body, std::make_shared<Scope>(scope), text);
    return text;
  }

  Value apply_filters(const std::vector<FilterCall>& filters, Value v, const ScopePtr& scope) {
    for (const auto& f : filters) {
      CallArgs args = eval_args(f.args, scope);
      at_ = f.pos;
      v = apply_filter(f.name, v, args);
    }
    return v;
  }

  void bind(const AssignTarget& t, const Value& v, Scope& scope) {
    if (!t.unpack) {
      scope.set(t.names[0], v);
      return;
    }
    std::vector<Value> items = iterate(v);
    if (items.size() != t.names.size())
      throw EvalError(items.size() > t.names.size()
                          ? "too many values to unpack (expected " + std::to_string(t.names.size()) + ")"
                          : "not enough values to unpack (expected " + std::to_string(t.names.size()) + ", got " +
                                std::to_string(items.size()) + ")");
    for (size_t i = 0; i < items.size(); ++i) scope.set(t.names[i], items[i]);
  }

  void assign(const AssignTarget& t, Value v, Scope& scope) {
    if (t.attribute.empty()) return bind(t, v, scope);
    const Value* ns = scope.find(t.names[0]);
    if (ns == nullptr || !ns->is_namespace())
      throw EvalError("cannot assign attribute on non-namespace object ('" + t.names[0] + "' is " +
                      (ns ? "of type '" + type_name(*ns) + "'" : std::string("undefined")) + ")");
    ns->namespace_entries().set(t.attribute, std::move(v));
  }

  void exec_for(const ast::For& n, const ScopePtr& scope, std::string& out) {
    std::vector<Value> items = iterate(eval(*n.iterable, scope));
    if (n.condition) {
      std::vector<Value> kept;
      for (auto& item : items) {
        auto probe = std::make_shared<Scope>(scope);
        bind(n.target, item, *probe);
        if (eval(*n.condition, probe).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    const int64_t len = static_cast<int64_t>(items.size());
    bool completed = false;
    for (int64_t i = 0; i < len; ++i) {
      auto s = std::make_shared<Scope>(scope);
      bind(n.target, items[static_cast<size_t>(i)], *s);
      ValueDict loop;
      loop.reserve(12);
      loop.set("index", Value::integer(i + 1));
      loop.set("index0", Value::integer(i));
      loop.set("revindex", Value::integer(len - i));
      loop.set("revindex0", Value::integer(len - i - 1));
      loop.set("first", Value::boolean(i == 0));
      loop.set("last", Value::boolean(i == len - 1));
      loop.set("length", Value::integer(len));
      loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
      loop.set("nextitem", i + 1 < len ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
      loop.set("depth", Value::integer(1));
      loop.set("depth0", Value::integer(0));
      loop.set("cycle", Value::callable("loop.cycle", [i](CallArgs& args) {
        if (args.positional.empty()) throw EvalError("no items for cycling given");
        return args.positional[static_cast<size_t>(i) % args.positional.size()];
      }));
      s->set("loop", Value::dict(std::move(loop)));
      Flow f = exec(n.body, s, out);
      if (f == Flow::Normal) completed = true;
      if (f == Flow::Break) break;
    }
    // Jinja2 clears its "run the else block" flag at the end of the loop body, so an iteration left by
    // break or continue does not count: the else block runs unless some iteration ran to its end.
    if (!completed) exec(n.otherwise, std::make_shared<Scope>(scope), out);
  }

  Value make_macro(const ast::Macro& m, const ScopePtr& closure) {
    // The callable holds its defining scope, which holds the callable: ~Interpreter breaks the cycle.
    return Value::callable(m.name, [this, &m, closure](CallArgs& args) {
      struct Depth {
        int& d;
        explicit Depth(int& depth) : d(depth) {
          if (++d > kMaxMacroDepth) throw EvalError("macros nested too deeply (recursion?)");
        }
        ~Depth() { --d; }
      } depth(macro_depth_);
      auto s = std::make_shared<Scope>(closure);
      std::vector<bool> given(m.params.size(), false);
      for (size_t i = 0; i < m.params.size() && i < args.positional.size(); ++i)
        s->set(m.params[i].first, args.positional[i]), given[i] = true;
      ValueDict extra_kw;
      for (const auto& [k, v] : args.keyword) {
        size_t i = 0;
        while (i < m.params.size() && m.params[i].first != k) ++i;
        if (i == m.params.size()) {
          extra_kw.set(k, v);
        } else {
          if (given[i]) throw EvalError("macro '" + m.name + "' got multiple values for argument '" + k + "'");
          s->set(k, v), given[i] = true;
        }
      }
      std::vector<Value> varargs;
      for (size_t i = m.params.size(); i < args.positional.size(); ++i) varargs.push_back(args.positional[i]);
      s->set("varargs", Value::tuple(std::move(varargs)));
      s->set("kwargs", Value::dict(std::move(extra_kw)));
      for (size_t i = 0; i < m.params.size(); ++i) {
        if (given[i]) continue;
        const auto& [name, def] = m.params[i];
        s->set(name, def ? eval(*def, s) : Value::undefined("parameter '" + name + "' was not provided"));
      }
      std::string text;
      exec(m.body, s, text);
      return Value::string(std::move(text));
    });
  }

  // ---- expressions ----------------------------------------------------------------------------------

  CallArgs eval_args(const Arguments& a, const ScopePtr& scope) {
    CallArgs out;
    for (const auto& e : a.positional) out.positional.push_back(eval(*e, scope));
    for (const auto& [k, e] : a.keyword) out.keyword.emplace_back(k, eval(*e, scope));
    return out;
  }

  Value eval(const Expr& e, const ScopePtr& scope) {
    return std::visit([&](const auto& n) { return eval_node(n, e.pos, scope); }, e.node);
  }

  Value eval_node(const ast::Literal& n, SourcePos, const ScopePtr&) { return n.value; }

  Value eval_node(const ast::Name& n, SourcePos, const ScopePtr& scope) {
    const Value* v = scope->find(n.name);
    return v ? *v : Value::undefined("'" + n.name + "' is undefined");
  }

  Value eval_node(const ast::ListLiteral& n, SourcePos, const ScopePtr& scope) {
    std::vector<Value> items;
    for (const auto& e : n.items) items.push_back(eval(*e, scope));
    return n.tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  }

  Value eval_node(const ast::DictLiteral& n, SourcePos, const ScopePtr& scope) {
    ValueDict d;
    for (const auto& [k, v] : n.items) {
      Value key = eval(*k, scope);
      if (!key.is_string()) {
        at_ = k->pos;
        throw EvalError("dict keys must be strings in chat templates, got '" + type_name(key) + "'");
      }
      d.set(key.as_string(), eval(*v, scope));
    }
    return Value::dict(std::move(d));
  }

  Value eval_node(const ast::GetAttr& n, SourcePos pos, const ScopePtr& scope) {
    Value obj = eval(*n.object, scope);
    at_ = pos;
    return get_attr(obj, n.attr);
  }

  Value eval_node(const ast::GetItem& n, SourcePos pos, const ScopePtr& scope) {
    Value obj = eval(*n.object, scope);
    Value key = eval(*n.key, scope);
    at_ = pos;
    return get_item(obj, key);
  }

  Value eval_node(const ast::Slice& n, SourcePos pos, const ScopePtr& scope) {
    Value obj = eval(*n.object, scope);
    Value a = n.start ? eval(*n.start, scope) : Value();
    Value b = n.stop ? eval(*n.stop, scope) : Value();
    Value c = n.step ? eval(*n.step, scope) : Value();
    at_ = pos;
    return slice_value(obj, a, b, c);
  }

  Value eval_node(const ast::Call& n, SourcePos pos, const ScopePtr& scope) {
    Value callee = eval(*n.callee, scope);
    CallArgs args = eval_args(n.args, scope);
    at_ = pos;
    if (callee.is_undefined()) throw_undefined(callee);
    if (!callee.is_callable()) throw EvalError("'" + type_name(callee) + "' object is not callable");
    SourcePos saved = at_;
    Value result = callee.as_callable().fn(args);
    at_ = saved;
    return result;
  }

  Value eval_node(const ast::Filter& n, SourcePos pos, const ScopePtr& scope) {
    Value v = eval(*n.operand, scope);
    CallArgs args = eval_args(n.filter.args, scope);
    at_ = pos;
    return apply_filter(n.filter.name, v, args);
  }

  Value eval_node(const ast::Test& n, SourcePos pos, const ScopePtr& scope) {
    Value v = eval(*n.operand, scope);
    CallArgs args = eval_args(n.test.args, scope);
    at_ = pos;
    return Value::boolean(apply_test(n.test.name, v, args) != n.negated);
  }

  Value eval_node(const ast::Unary& n, SourcePos pos, const ScopePtr& scope) {
    Value v = eval(*n.operand, scope);
    at_ = pos;
    return unary_op(n.op, v);
  }

  Value eval_node(const ast::Binary& n, SourcePos pos, const ScopePtr& scope) {
    Value left = eval(*n.left, scope);
    if (n.op == BinaryOp::And) return left.truthy() ? eval(*n.right, scope) : left;
    if (n.op == BinaryOp::Or) return left.truthy() ? left : eval(*n.right, scope);
    Value right = eval(*n.right, scope);
    at_ = pos;
    return binary_op(n.op, left, right);
  }

  Value eval_node(const ast::Compare& n, SourcePos pos, const ScopePtr& scope) {
    Value left = eval(*n.first, scope);
    for (const auto& [op, expr] : n.rest) {
      Value right = eval(*expr, scope);
      at_ = pos;
      if (!compare_op(op, left, right)) return Value::boolean(false);
      left = std::move(right);
    }
    return Value::boolean(true);
  }

  Value eval_node(const ast::Conditional& n, SourcePos, const ScopePtr& scope) {
    if (eval(*n.test, scope).truthy()) return eval(*n.then, scope);
    return n.otherwise ? eval(*n.otherwise, scope) : Value::undefined("the condition was false and there is no else");
  }
};

}  // namespace

std::string render(const Template& t, const ValueDict& variables, const RenderSettings& settings) {
  return Interpreter(t, settings).run(variables);
}

}  // namespace prefer::text::jinja
