"""Read libecr's public C headers into plain Python data.

This is the single header parser of the project (STYLE.md sections 13 and 18):
the export check (tests/abi/check_exports.py) uses it today, and the Python and
Go binding generators will use it too.

The headers are preprocessed with

    gcc -E -std=c11 -DECR_BINDGEN -nostdinc -I bindings/gen/fake_include -I include

(ECR_BINDGEN turns ECR_EXTERN(t) into plain `extern t`; fake_include/ holds tiny
stand-ins for <stddef.h>, <stdint.h> and <stdbool.h>), parsed with pycparser,
and only the declarations whose coord.file lies under include/ecr are kept.
Integer #defines (erased by the preprocessor) are collected with a regex over
the raw header text.

Usage as a script: python3 ecr_header.py [--root DIR] [--sys] [--json]
"""
import json
import os
import re
import subprocess
import sys

from pycparser import c_ast, c_generator, c_parser

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.dirname(os.path.dirname(HERE))


class Function:
    """A function declaration: name, return type and parameters as C text."""

    def __init__(self, name, restype, params, variadic, file, line):
        self.doc = ""               # the /** */ comment above it, cleaned
        self.restype_node = None    # pycparser type nodes (for the generators)
        self.param_nodes = []
        self.name = name
        self.restype = restype      # e.g. "const char *"
        self.params = params        # [(name or None, "type")]
        self.variadic = variadic
        self.file = file            # path relative to the root
        self.line = line

    def signature(self):
        args = ", ".join(t if n is None else "%s %s" % (t, n) for n, t in self.params) or "void"
        if self.variadic:
            args += ", ..."
        return "%s %s(%s)" % (self.restype, self.name, args)

    def to_dict(self):
        return {"name": self.name, "restype": self.restype, "params": self.params,
                "variadic": self.variadic, "file": self.file, "line": self.line}


class Enum:
    def __init__(self, name, values, file):
        self.doc = ""
        self.value_docs = {}        # NAME -> its /**< */ comment
        self.name = name            # the typedef name (or the tag when there is none)
        self.values = values        # [(NAME, int)] in declaration order
        self.file = file

    def to_dict(self):
        return {"name": self.name, "values": self.values, "file": self.file}


class Struct:
    def __init__(self, name, fields, file):
        self.doc = ""
        self.field_nodes = None     # pycparser type nodes of the fields
        self.field_docs = {}        # field -> its comment
        self.typedef = None         # the typedef name, when there is one
        self.name = name            # the struct tag
        self.fields = fields        # [(name, "type")]; None for an opaque struct
        self.file = file

    @property
    def opaque(self):
        return self.fields is None

    def to_dict(self):
        return {"name": self.name, "fields": self.fields, "file": self.file}


class Typedef:
    def __init__(self, name, type_text, kind, file):
        self.doc = ""
        self.node = None            # the pycparser type node
        self.name = name
        self.type = type_text       # the C text of the aliased type
        self.kind = kind            # "struct", "enum", "function_pointer" or "other"
        self.file = file

    def to_dict(self):
        return {"name": self.name, "type": self.type, "kind": self.kind, "file": self.file}


class Header:
    """Everything read from the public headers."""

    def __init__(self):
        self.functions = []
        self.enums = []
        self.structs = []
        self.typedefs = []
        self.defines = {}           # integer #defines: NAME -> int
        self.define_docs = {}       # NAME -> its comment
        self.inits = {}             # ECR_X_INIT -> [C tokens of its initialiser]

    def function_names(self):
        return sorted(f.name for f in self.functions)

    def to_dict(self):
        return {
            "functions": [f.to_dict() for f in self.functions],
            "enums": [e.to_dict() for e in self.enums],
            "structs": [s.to_dict() for s in self.structs],
            "typedefs": [t.to_dict() for t in self.typedefs],
            "defines": self.defines,
        }


def public_headers(root=DEFAULT_ROOT, include_sys=True):
    """Paths (relative to root) of every public header: include/ecr.h,
    include/ecr/*.h and, with include_sys, include/ecr/sys/*.h."""
    inc = os.path.join(root, "include")
    out = ["include/ecr.h"]
    for sub in ["ecr", os.path.join("ecr", "sys")] if include_sys else ["ecr"]:
        folder = os.path.join(inc, sub)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".h"):
                out.append(os.path.join("include", sub, name))
    return out


def preprocess(root=DEFAULT_ROOT, include_sys=True, cc=None):
    """Run the preprocessor over ecr.h (plus the ecr/sys/ headers) and return
    the text."""
    inc = os.path.join(root, "include")
    fake = os.path.join(HERE, "fake_include")
    lines = ['#include "%s"' % os.path.relpath(os.path.join(root, h), inc)
             for h in public_headers(root, include_sys)]
    source = "\n".join(lines) + "\n"
    cc = cc or os.environ.get("ECR_BINDGEN_CC", "gcc")
    cmd = [cc, "-E", "-std=c11", "-DECR_BINDGEN", "-nostdinc", "-I", fake, "-I", inc, "-x", "c", "-"]
    proc = subprocess.run(cmd, input=source.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), proc.stderr.decode(errors="replace")))
    return proc.stdout.decode()


_GEN = c_generator.CGenerator()


def _type_text(node):
    """C text of a type node (a Decl's type, a Typename ...), without a name."""
    return _GEN.visit(_strip_names(node)).strip()


def _strip_names(node):
    """A copy of a type with the declared name removed, so the generator
    prints only the type."""
    import copy
    node = copy.deepcopy(node)
    n = node
    while n is not None:
        if isinstance(n, c_ast.TypeDecl):
            n.declname = None
            break
        n = getattr(n, "type", None)
    return node


def _eval(node, known):
    """Evaluate an enum value's constant expression."""
    if node is None:
        return None
    if isinstance(node, c_ast.Constant):
        text = node.value.rstrip("uUlL")
        return int(text, 0)
    if isinstance(node, c_ast.UnaryOp):
        v = _eval(node.expr, known)
        return {"-": -v, "+": v, "~": ~v}[node.op]
    if isinstance(node, c_ast.ID):
        return known[node.name]
    if isinstance(node, c_ast.BinaryOp):
        a, b = _eval(node.left, known), _eval(node.right, known)
        ops = {"+": a + b, "-": a - b, "*": a * b, "|": a | b, "&": a & b, "<<": a << b if b >= 0 else 0,
               ">>": a >> b if b >= 0 else 0}
        return ops[node.op]
    raise ValueError("cannot evaluate enum value %r" % node)


def _enum_values(enum, known):
    out = []
    nxt = 0
    for e in enum.values.enumerators if enum.values else []:
        v = _eval(e.value, known) if e.value is not None else nxt
        known[e.name] = v
        out.append((e.name, v))
        nxt = v + 1
    return out


def _fields(struct):
    if struct.decls is None:
        return None
    return [(d.name, _type_text(d.type)) for d in struct.decls]


_LINES = {}


def _file_lines(path):
    if path not in _LINES:
        with open(path, encoding="utf-8") as f:
            _LINES[path] = f.read().split("\n")
    return _LINES[path]


def clean_comment(text):
    """The text of a /** */ or /**< */ comment without its markers."""
    text = re.sub(r"^/\*\*<?", "", text.strip())
    text = re.sub(r"\*/$", "", text)
    out = []
    for line in text.split("\n"):
        line = re.sub(r"^\s*\*(?!/) ?", "", line).rstrip()
        out.append(line)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    if len(out) == 1:
        return out[0].strip()
    return "\n".join(out)


def doc_at(path, line):
    """The documentation of the declaration starting on line (1-based) of
    path: the /** */ block that ends on the line above, or a /**< */ comment
    on the line itself."""
    lines = _file_lines(path)
    if not 0 < line <= len(lines):
        return ""
    m = re.search(r"/\*\*<(.*?)\*/", lines[line - 1])
    if m:
        return clean_comment("/**<" + m.group(1) + "*/")
    i = line - 2
    if i < 0 or not lines[i].rstrip().endswith("*/"):
        return ""
    j = i
    while j >= 0 and "/*" not in lines[j]:
        j -= 1
    if j < 0 or "/**" not in lines[j] or "@file" in "".join(lines[j:i + 1]):
        return ""
    block = "\n".join(lines[j:i + 1])
    block = block[block.index("/**"):]
    return clean_comment(block)


_DEFINE_RE = re.compile(r"^\s*#\s*define\s+(ECR_[A-Z0-9_]+)\s+\(?\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))[uUlL]*\s*\)?\s*(?:/\*.*\*/|//.*)?$")


def integer_defines(root=DEFAULT_ROOT, include_sys=True, docs=None):
    """Integer-valued ECR_* #defines of the raw headers (cpp erases them).
    With docs (a dict), their comments are put there too."""
    out = {}
    for rel in public_headers(root, include_sys):
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = _DEFINE_RE.match(line)
                if m:
                    out[m.group(1)] = int(m.group(2), 0)
                    if docs is not None:
                        docs[m.group(1)] = doc_at(path, n)
    return out


_INIT_RE = re.compile(r"^\s*#\s*define\s+(ECR_[A-Z0-9_]+_INIT)\s*\{(.*?)\}", re.M | re.S)


def init_macros(root=DEFAULT_ROOT, include_sys=True):
    """The ECR_*_INIT static initialisers: NAME -> [token, ...] (C text of
    each positional value)."""
    out = {}
    for rel in public_headers(root, include_sys):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read().replace("\\\n", " ")
        for m in _INIT_RE.finditer(text):
            out[m.group(1)] = [t.strip() for t in m.group(2).split(",") if t.strip()]
    return out


def parse(root=DEFAULT_ROOT, include_sys=True, cc=None):
    """Parse the public headers and return a Header."""
    root = os.path.abspath(root)
    text = preprocess(root, include_sys, cc)
    ast = c_parser.CParser().parse(text, filename="<ecr>")
    prefix = os.path.join(root, "include", "ecr")
    hdr = Header()
    known = {}
    seen_structs = {}

    def rel(coord):
        return os.path.relpath(coord.file, root)

    def ours(node):
        f = node.coord.file if node.coord else ""
        return f.startswith(prefix + os.sep) or f == prefix + ".h"

    def note_struct(s, file, typedef=None, doc=""):
        if s.name is None:
            return
        fields = _fields(s)
        prev = seen_structs.get(s.name)
        if prev is None:
            prev = Struct(s.name, fields, file)
            seen_structs[s.name] = prev
            hdr.structs.append(prev)
        elif prev.fields is None and fields is not None:
            prev.fields = fields
            prev.file = file
        if typedef and prev.typedef is None:
            prev.typedef = typedef
        if doc and not prev.doc:
            prev.doc = doc
        if fields is not None and prev.field_nodes is None:
            prev.field_nodes = [(d.name, d.type) for d in s.decls]
            prev.field_docs = {d.name: doc_at(d.coord.file, d.coord.line) for d in s.decls}

    def enum_docs(e, t):
        e.value_docs = {v.name: doc_at(v.coord.file, v.coord.line) for v in (t.values.enumerators if t.values else [])}

    for node in ast.ext:
        if not ours(node):
            continue
        file = rel(node.coord)
        if isinstance(node, c_ast.Decl) and isinstance(node.type, c_ast.FuncDecl):
            fd = node.type
            params = []
            nodes = []
            variadic = False
            for p in (fd.args.params if fd.args else []):
                if isinstance(p, c_ast.EllipsisParam):
                    variadic = True
                    continue
                t = _type_text(p.type)
                if t == "void" and p.name is None:
                    continue
                params.append((p.name, t))
                nodes.append((p.name, p.type))
            fn = Function(node.name, _type_text(fd.type), params, variadic, file, node.coord.line)
            fn.restype_node = fd.type
            fn.param_nodes = nodes
            fn.doc = doc_at(node.coord.file, node.coord.line)
            hdr.functions.append(fn)
        elif isinstance(node, c_ast.Typedef):
            t = node.type.type if isinstance(node.type, c_ast.TypeDecl) else None
            where = t.coord if isinstance(t, (c_ast.Enum, c_ast.Struct)) and t.coord else node.coord
            doc = doc_at(where.file, where.line)
            if isinstance(t, c_ast.Enum):
                e = Enum(node.name, _enum_values(t, known), file)
                e.doc = doc
                enum_docs(e, t)
                hdr.enums.append(e)
                kind = "enum"
            elif isinstance(t, c_ast.Struct):
                note_struct(t, file, node.name, doc)
                kind = "struct"
            elif isinstance(node.type, c_ast.PtrDecl) and isinstance(node.type.type, c_ast.FuncDecl):
                kind = "function_pointer"
            else:
                kind = "other"
            td = Typedef(node.name, _type_text(node.type), kind, file)
            td.node = node.type
            td.doc = doc
            hdr.typedefs.append(td)
        elif isinstance(node, c_ast.Decl):
            t = node.type
            if isinstance(t, c_ast.Struct):
                note_struct(t, file)
            elif isinstance(t, c_ast.Enum) and t.name:
                e = Enum(t.name, _enum_values(t, known), file)
                enum_docs(e, t)
                hdr.enums.append(e)
    hdr.defines = integer_defines(root, include_sys, hdr.define_docs)
    hdr.inits = init_macros(root, include_sys)
    return hdr


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="Dump what the public headers declare.")
    ap.add_argument("--root", default=DEFAULT_ROOT, help="the source tree (default: this checkout)")
    ap.add_argument("--no-sys", action="store_true", help="leave out include/ecr/sys/")
    ap.add_argument("--json", action="store_true", help="print JSON instead of C signatures")
    args = ap.parse_args(argv)
    hdr = parse(args.root, include_sys=not args.no_sys)
    if args.json:
        json.dump(hdr.to_dict(), sys.stdout, indent=1)
        print()
    else:
        for f in hdr.functions:
            print(f.signature() + ";")
        print("/* %d functions, %d enums, %d structs, %d typedefs, %d integer defines */" % (
            len(hdr.functions), len(hdr.enums), len(hdr.structs), len(hdr.typedefs), len(hdr.defines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
