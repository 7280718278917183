#!/usr/bin/env python3
"""Generate the mechanical layer of the Python and Go bindings from the public
headers (STYLE.md section 18).

    bindings/python/libecr/_ffi.py   ctypes: structures, callback types, enums,
                                     constants, *_INIT defaults, and every
                                     function's argtypes/restype with its doc
    bindings/go/ecr/zz_generated.go  cgo: constants, enum types, and a wrapper
                                     per function (int results checked against
                                     the thread-local error, OS thread locked)

Both come from bindings/gen/ecr_header.py (pycparser), like the export check.
The output is committed; the meson test bindings/regen regenerates it into a
temporary folder and fails on any difference.

Usage: gen_bindings.py [--root SOURCE_DIR] [--out OUT_DIR]
  (OUT_DIR defaults to SOURCE_DIR; files go to OUT_DIR/bindings/...)
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

from pycparser import c_ast

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ecr_header  # noqa: E402

PY_OUT = os.path.join("bindings", "python", "libecr", "_ffi.py")
GO_OUT = os.path.join("bindings", "go", "ecr", "zz_generated.go")

# Scalar C types by name (never through the fake typedefs of fake_include/).
PY_SCALARS = {
    "int": "ctypes.c_int", "unsigned int": "ctypes.c_uint", "unsigned": "ctypes.c_uint",
    "long": "ctypes.c_long", "unsigned long": "ctypes.c_ulong", "long long": "ctypes.c_longlong",
    "unsigned long long": "ctypes.c_ulonglong", "short": "ctypes.c_short", "unsigned short": "ctypes.c_ushort",
    "char": "ctypes.c_char", "signed char": "ctypes.c_byte", "unsigned char": "ctypes.c_ubyte",
    "_Bool": "ctypes.c_bool", "bool": "ctypes.c_bool", "double": "ctypes.c_double", "float": "ctypes.c_float",
    "size_t": "ctypes.c_size_t", "ptrdiff_t": "ctypes.c_ssize_t",
    "int8_t": "ctypes.c_int8", "int16_t": "ctypes.c_int16", "int32_t": "ctypes.c_int32", "int64_t": "ctypes.c_int64",
    "uint8_t": "ctypes.c_uint8", "uint16_t": "ctypes.c_uint16", "uint32_t": "ctypes.c_uint32",
    "uint64_t": "ctypes.c_uint64", "intptr_t": "ctypes.c_ssize_t", "uintptr_t": "ctypes.c_size_t",
}
GO_SCALARS = {
    "int": "C.int", "unsigned int": "C.uint", "unsigned": "C.uint", "long": "C.long", "unsigned long": "C.ulong",
    "long long": "C.longlong", "unsigned long long": "C.ulonglong", "short": "C.short",
    "unsigned short": "C.ushort", "char": "C.char", "signed char": "C.schar", "unsigned char": "C.uchar",
    "_Bool": "C._Bool", "bool": "C._Bool", "double": "C.double", "float": "C.float", "size_t": "C.size_t",
    "ptrdiff_t": "C.ptrdiff_t",
    "int8_t": "C.int8_t", "int16_t": "C.int16_t", "int32_t": "C.int32_t", "int64_t": "C.int64_t",
    "uint8_t": "C.uint8_t", "uint16_t": "C.uint16_t", "uint32_t": "C.uint32_t", "uint64_t": "C.uint64_t",
    "intptr_t": "C.intptr_t", "uintptr_t": "C.uintptr_t",
}
GO_KEYWORDS = {"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for",
               "func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select",
               "struct", "switch", "type", "var", "len", "cap", "string", "error", "C", "unsafe", "runtime"}

# int-returning functions whose result is not a 0-or-negative code.
NOT_CODES = {"ecr_error_category"}


def camel(name):
    """ecr_tag_mutability -> TagMutability."""
    name = re.sub(r"^ecr_", "", name)
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p)


def enum_prefix(names):
    """The common NAME_ prefix of enum members, leaving at least one word."""
    if len(names) < 2:
        parts = names[0].split("_")
        return "_".join(parts[:2]) + "_" if len(parts) > 2 else "ECR_"
    split = [n.split("_") for n in names]
    common = []
    for words in zip(*split):
        if all(w == words[0] for w in words):
            common.append(words[0])
        else:
            break
    while common and any(len(s) <= len(common) for s in split):
        common.pop()
    prefix = "_".join(common) + "_" if common else ""
    if any(n[len(prefix):][:1].isdigit() for n in names):
        prefix = "ECR_"
    return prefix


def py_doc(text, indent):
    if not text:
        return ""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.split("\n")
    pad = " " * indent
    if len(lines) == 1:
        return '%s"""%s"""\n' % (pad, lines[0])
    return pad + '"""' + lines[0] + "\n" + "".join((pad + ln if ln else "") + "\n" for ln in lines[1:]) + pad + '"""\n'


def go_comment(text, indent=""):
    if not text:
        return ""
    return "".join(indent + ("// " + ln if ln else "//") + "\n" for ln in text.split("\n"))


class Model:
    """The header, indexed for type mapping."""

    def __init__(self, hdr):
        self.hdr = hdr
        self.typedefs = {t.name: t for t in hdr.typedefs}
        self.structs = {s.name: s for s in hdr.structs}
        self.enum_names = {e.name for e in hdr.enums}
        self.struct_typedef = {}   # typedef name -> struct tag
        for t in hdr.typedefs:
            if t.kind == "struct":
                self.struct_typedef[t.name] = t.node.type.name
        self.callbacks = [t for t in hdr.typedefs if t.kind == "function_pointer"]
        self.enum_values = {}
        for e in hdr.enums:
            for n, v in e.values:
                self.enum_values[n] = v

    # --- Python -----------------------------------------------------------
    def py_struct_class(self, tag):
        return "ecr_" + tag[4:] if tag.startswith("ecr_") else tag

    def py_type(self, node, ctx="arg"):
        """ctypes expression for a type node."""
        if isinstance(node, c_ast.TypeDecl):
            t = node.type
            if isinstance(t, c_ast.IdentifierType):
                name = " ".join(t.names)
                if name == "void":
                    return "None"
                if name in PY_SCALARS:
                    return PY_SCALARS[name]
                if name in self.enum_names:
                    return "ctypes.c_int"
                td = self.typedefs.get(name)
                if td is None:
                    raise ValueError("unknown type %s" % name)
                if td.kind == "struct":
                    return self.py_struct_class(self.struct_typedef[name])
                if td.kind == "function_pointer":
                    return name
                return self.py_type(td.node, ctx)
            if isinstance(t, c_ast.Struct):
                return self.py_struct_class(t.name)
            if isinstance(t, c_ast.Enum):
                return "ctypes.c_int"
            raise ValueError("type %r" % t)
        if isinstance(node, c_ast.PtrDecl):
            inner = node.type
            if isinstance(inner, c_ast.FuncDecl):
                return self.py_functype(inner)
            if isinstance(inner, c_ast.TypeDecl) and isinstance(inner.type, c_ast.IdentifierType):
                name = " ".join(inner.type.names)
                if name == "void":
                    return "ctypes.c_void_p"
                if name == "char":
                    return "ctypes.c_char_p" if "const" in inner.quals else "ctypes.POINTER(ctypes.c_char)"
            return "ctypes.POINTER(%s)" % self.py_type(inner, ctx)
        if isinstance(node, c_ast.ArrayDecl):
            return "(%s * %s)" % (self.py_type(node.type, ctx), node.dim.value)
        if isinstance(node, c_ast.FuncDecl):
            return self.py_functype(node)
        raise ValueError("type %r" % node)

    def py_functype(self, fd):
        res = self.py_type(fd.type, "ret")
        args = []
        for p in (fd.args.params if fd.args else []):
            if isinstance(p, c_ast.EllipsisParam):
                continue
            if ecr_header._type_text(p.type) == "void":
                continue
            args.append(self.py_type(p.type))
        return "ctypes.CFUNCTYPE(%s)" % ", ".join([res] + args)

    # --- Go ---------------------------------------------------------------
    def go_type(self, node):
        if isinstance(node, c_ast.TypeDecl):
            t = node.type
            if isinstance(t, c_ast.IdentifierType):
                name = " ".join(t.names)
                if name == "void":
                    return ""
                if name in GO_SCALARS:
                    return GO_SCALARS[name]
                return "C." + name
            if isinstance(t, c_ast.Struct):
                return "C.struct_" + t.name
            if isinstance(t, c_ast.Enum):
                return "C.enum_" + t.name
            raise ValueError("type %r" % t)
        if isinstance(node, c_ast.PtrDecl):
            inner = node.type
            if isinstance(inner, c_ast.FuncDecl):
                return "*[0]byte"
            if isinstance(inner, c_ast.TypeDecl) and isinstance(inner.type, c_ast.IdentifierType) and \
                    " ".join(inner.type.names) == "void":
                return "unsafe.Pointer"
            return "*" + self.go_type(inner)
        if isinstance(node, c_ast.ArrayDecl):
            return "[%s]%s" % (node.dim.value, self.go_type(node.type))
        raise ValueError("type %r" % node)


def init_value(tok, model):
    if tok == "NULL":
        return "None"
    if re.match(r"^-?(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$", tok):
        return str(int(tok.rstrip("uUlL"), 0))
    if tok in model.hdr.defines:
        return str(model.hdr.defines[tok])
    if tok in model.enum_values:
        return str(model.enum_values[tok])
    raise ValueError("cannot evaluate initialiser value %r" % tok)


def init_struct(macro, model):
    """ECR_REGISTRY_OPTIONS_INIT -> the struct tag ecr_registry_options."""
    base = macro[:-len("_INIT")].lower()
    for s in model.hdr.structs:
        if s.name == base or s.typedef == base:
            return s
    return None


def struct_order(model):
    """Structs with fields, each after the structs it embeds by value."""
    done, out = set(), []

    def embeds(s):
        deps = []
        for _, node in s.field_nodes or []:
            n = node
            while isinstance(n, c_ast.ArrayDecl):
                n = n.type
            if isinstance(n, c_ast.TypeDecl):
                t = n.type
                if isinstance(t, c_ast.Struct):
                    deps.append(t.name)
                elif isinstance(t, c_ast.IdentifierType) and " ".join(t.names) in model.struct_typedef:
                    deps.append(model.struct_typedef[" ".join(t.names)])
        return deps

    def visit(s):
        if s.name in done:
            return
        done.add(s.name)
        for d in embeds(s):
            if d in model.structs:
                visit(model.structs[d])
        if s.fields is not None:
            out.append(s)

    for s in model.hdr.structs:
        visit(s)
    return out


def gen_python(model):
    hdr = model.hdr
    o = []
    w = o.append
    w('"""The generated ctypes layer of libecr (do not edit: bindings/gen/gen_bindings.py writes it\n'
      'from include/, and the meson test bindings/regen checks that it is fresh).\n\n'
      'Everything the public headers declare: structures (opaque handles have no fields), callback\n'
      'types, enums (IntEnum), integer constants, the *_INIT defaults, and FUNCTIONS, the signature\n'
      'and documentation of every function. bind(cdll) sets argtypes and restype on a loaded\n'
      'libecr and returns the names it could not find.\n"""\n')
    w("# flake8: noqa\n# pylint: skip-file\nimport ctypes\nimport enum\n\n")
    w("# Integer #defines.\n")
    for name in sorted(hdr.defines):
        w("%s = %d\n" % (name, hdr.defines[name]))
    w("\n# Enums: an IntEnum per C enum, and every value as a module constant too.\n")
    for e in hdr.enums:
        prefix = enum_prefix([n for n, _ in e.values])
        w("\n\nclass %s(enum.IntEnum):\n" % camel(e.name))
        w(py_doc((e.doc or e.name) + "\n\nC: " + e.name, 4))
        for n, v in e.values:
            w("    %s = %d\n" % (n[len(prefix):], v))
            if e.value_docs.get(n):
                w(py_doc(e.value_docs[n], 4))
        w("\n\n")
        for n, v in e.values:
            w("%s = %d\n" % (n, v))
    w("\n\n# Structures, declared first so that pointers can refer to any of them.\n")
    for s in hdr.structs:
        w("\n\nclass %s(ctypes.Structure):\n" % model.py_struct_class(s.name))
        doc = s.doc or ("An opaque handle." if s.opaque else "")
        w(py_doc(doc + "\n\nC: struct %s%s" % (s.name, " (opaque)" if s.opaque else ""), 4))
        if s.fields is not None:
            docs = ["%s: %s" % (n, s.field_docs[n].replace("\n", " ")) for n, _ in s.fields if s.field_docs.get(n)]
            if docs:
                w("    _field_docs_ = {\n")
                for n, _ in s.fields:
                    if s.field_docs.get(n):
                        w("        %r: %r,\n" % (n, s.field_docs[n]))
                w("    }\n")
    w("\n\n# Callback types.\n")
    for t in model.callbacks:
        w("%s = %s\n" % (t.name, model.py_type(t.node.type)))
    w("CALLBACK_DOCS = {\n")
    for t in model.callbacks:
        w("    %r: %r,\n" % (t.name, t.doc))
    w("}\n")
    w("\n# Fields, each structure after the ones it embeds by value.\n")
    for s in struct_order(model):
        cls = model.py_struct_class(s.name)
        w("%s._fields_ = [\n" % cls)
        for n, node in s.field_nodes:
            w("    (%r, %s),\n" % (n, model.py_type(node)))
        w("]\n")
    w("\n# Typedef names of structures.\n")
    for t in hdr.typedefs:
        if t.kind == "struct" and model.py_struct_class(model.struct_typedef[t.name]) != t.name:
            w("%s = %s\n" % (t.name, model.py_struct_class(model.struct_typedef[t.name])))
    w("\n# The *_INIT static initialisers: field name -> default value, for each macro.\n")
    w("INITS = {\n")
    for macro in sorted(hdr.inits):
        s = init_struct(macro, model)
        if s is None or s.fields is None:
            continue
        vals = hdr.inits[macro]
        pairs = ["%r: %s" % (s.fields[i][0], init_value(v, model)) for i, v in enumerate(vals) if i < len(s.fields)]
        w("    %r: (%s, {%s}),\n" % (macro, model.py_struct_class(s.name), ", ".join(pairs)))
    w("}\n\n\ndef init(macro):\n")
    w('    """A structure filled as the C initialiser macro (e.g. "ECR_REGISTRY_OPTIONS_INIT") fills it."""\n')
    w("    cls, values = INITS[macro]\n    obj = cls()\n    for name, value in values.items():\n")
    w("        if value is not None:\n            setattr(obj, name, value)\n    return obj\n")
    w("\n\n# Every function: name -> (restype, argtypes, parameter names, C signature, documentation).\n")
    w("FUNCTIONS = {\n")
    for f in hdr.functions:
        if f.variadic:
            raise ValueError("variadic function %s cannot be bound" % f.name)
        res = model.py_type(f.restype_node, "ret")
        args = [model.py_type(n) for _, n in f.param_nodes]
        names = [n or "arg%d" % i for i, (n, _) in enumerate(f.param_nodes)]
        w("    %r: (\n        %s,\n        [%s],\n        %r,\n        %r,\n        %r),\n" % (
            f.name, res, ", ".join(args), tuple(names), f.signature(), f.doc))
    w("}\n\n\n")
    w("def bind(lib):\n")
    w('    """Set argtypes and restype of every function on lib (a ctypes.CDLL).\n\n'
      '    Returns the names lib does not export (empty when it matches the headers)."""\n')
    w("    missing = []\n    for name, (restype, argtypes, _names, _sig, doc) in FUNCTIONS.items():\n")
    w("        try:\n            fn = getattr(lib, name)\n        except AttributeError:\n")
    w("            missing.append(name)\n            continue\n")
    w("        fn.restype = restype\n        fn.argtypes = argtypes\n        fn.__doc__ = doc\n")
    w("    return missing\n")
    return "".join(o)


def gen_go(model):
    hdr = model.hdr
    o = []
    w = o.append
    w("// Code generated by bindings/gen/gen_bindings.py from include/; DO NOT EDIT.\n\n")
    w("package ecr\n\n")
    w("/*\n#include <stdlib.h>\n#include <ecr.h>\n#include <ecr/sys/alloc.h>\n#include <ecr/sys/blob_store.h>\n"
      "#include <ecr/sys/meta_store.h>\n")
    if os.path.exists(os.path.join(model.root, "include", "ecr", "sys", "transport.h")):
        w("#include <ecr/sys/transport.h>\n")
    w("*/\nimport \"C\"\n\nimport (\n\t\"runtime\"\n\t\"unsafe\"\n)\n\n")
    w("var _ unsafe.Pointer\n\n")
    w("// Integer #defines of the public headers (the compiler checks each against the header).\nconst (\n")
    for name in sorted(hdr.defines):
        doc = hdr.define_docs.get(name)
        if doc:
            w(go_comment(doc, "\t"))
        w("\t%s = C.%s\n" % (name[4:], name))
    w(")\n")
    for e in hdr.enums:
        tn = camel(e.name)
        w("\n")
        w(go_comment((e.doc or e.name) + "\n\nC: " + e.name))
        w("type %s int\n\n" % tn)
        w("// Values of %s.\nconst (\n" % tn)
        for n, _ in e.values:
            if e.value_docs.get(n):
                w(go_comment(e.value_docs[n], "\t"))
            w("\t%s %s = C.%s\n" % (n[4:], tn, n))
        w(")\n")
        w("\n// %sNames maps each value of %s to its C name.\nvar %sNames = map[%s]string{\n" % (tn, tn, tn, tn))
        for n, _ in e.values:
            w("\t%s: %s,\n" % (n[4:], json.dumps(n)))
        w("}\n")
    w("\n// exportedFunctions lists every function of the public headers, in header order.\n")
    w("var exportedFunctions = []string{\n")
    for f in hdr.functions:
        w("\t%s,\n" % json.dumps(f.name))
    w("}\n")
    w("\n// The C functions, one wrapper each. A function returning int (an ECR_E* code) is checked:\n"
      "// the OS thread is locked around the call so that ecr_error_last() is read on the thread\n"
      "// that failed, and a negative result comes back as an *Error.\n")
    for f in hdr.functions:
        params = []
        args = []
        for i, (n, node) in enumerate(f.param_nodes):
            pn = n or "a%d" % i
            if pn in GO_KEYWORDS:
                pn += "_"
            params.append("%s %s" % (pn, model.go_type(node)))
            args.append(pn)
        res = model.go_type(f.restype_node)
        w("\n")
        w(go_comment(f.signature() + (("\n\n" + f.doc) if f.doc else "")))
        call = "C.%s(%s)" % (f.name, ", ".join(args))
        if res == "C.int" and f.name not in NOT_CODES:
            w("func %s(%s) (C.int, error) {\n" % (f.name, ", ".join(params)))
            w("\truntime.LockOSThread()\n\tdefer runtime.UnlockOSThread()\n")
            w("\trc := %s\n\tif rc < 0 {\n\t\treturn rc, lastError(rc)\n\t}\n\treturn rc, nil\n}\n" % call)
        elif res == "":
            w("func %s(%s) {\n\t%s\n}\n" % (f.name, ", ".join(params), call))
        else:
            w("func %s(%s) %s {\n\treturn %s\n}\n" % (f.name, ", ".join(params), res, call))
    return "".join(o)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=ecr_header.DEFAULT_ROOT)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    root = os.path.abspath(args.root)
    out = os.path.abspath(args.out or root)
    model = Model(ecr_header.parse(root, include_sys=True))
    model.root = root
    go_text = gen_go(model)
    gofmt = os.environ.get("GOFMT") or shutil.which("gofmt") or "/usr/lib/go/bin/gofmt"
    if not os.path.exists(gofmt):
        print("gen_bindings: gofmt not found (Debian: golang-go)", file=sys.stderr)
        return 1
    proc = subprocess.run([gofmt], input=go_text.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        print("gen_bindings: gofmt failed:\n" + proc.stderr.decode(errors="replace"), file=sys.stderr)
        return 1
    go_text = proc.stdout.decode()
    for rel, text in ((PY_OUT, gen_python(model)), (GO_OUT, go_text)):
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
