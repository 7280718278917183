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


# --- The exported Go API (zz_api.go) ------------------------------------------
#
# Every opaque handle of the headers becomes a Go type (GO_HANDLES names the
# exceptions); a function whose parameters and result all have a Go form
# (strings, []string, []byte, integers, enums, handles, ecr_buf and scalar
# outputs) gets an exported wrapper: a method when its first handle parameter
# names it (ecr_registry_set_policy -> (*Registry).SetPolicy), else a function
# (ecr_repository_open -> RepositoryOpen). The others (callbacks, option
# structures) are written by hand in bindings/go/ecr/*.go (GO_HANDWRITTEN: their
# Go names, checked by the coverage test) or left to C (GO_EXCLUDED, with why).

GO_API_OUT = os.path.join("bindings", "go", "ecr", "zz_api.go")

GO_HANDLE_NAMES = {"ecr_blob": "BlobReader"}
# Structures with fields that are used as handles (constructors return them).
GO_HANDLE_EXTRA = ["ecr_blob_store", "ecr_meta_store"]
# Opaque structures that are no handle of the Go API.
GO_HANDLE_SKIP = {"ecr_meta_txn"}

# C function -> the Go path written by hand (its value is in handWrittenAPI, api.go).
GO_HANDWRITTEN = {
    "ecr_version": "Version",
    "ecr_error_last": "LastError",
    "ecr_registry_options_init": "Open",
    "ecr_registry_open": "Open",
    "ecr_registry_open_storage": "OpenStorage",
    "ecr_registry_open_urls": "OpenURLs",
    "ecr_registry_account_id": "(*Registry).AccountID",
    "ecr_registry_region": "(*Registry).Region",
    "ecr_gc_options_init": "(*Registry).GC",
    "ecr_registry_gc": "(*Registry).GC",
    "ecr_repository_options_init": "(*Registry).CreateRepository",
    "ecr_repository_create": "(*Registry).CreateRepository",
    "ecr_repository_open": "(*Registry).Repository",
    "ecr_repository_delete": "(*Registry).DeleteRepository",
    "ecr_repository_name": "(*Repository).Name",
    "ecr_repository_arn": "(*Repository).ARN",
    "ecr_repository_uri": "(*Repository).URI",
    "ecr_repository_tag_mutability": "(*Repository).TagMutability",
    "ecr_repository_tag_resource": "(*Repository).TagResource",
    "ecr_repository_resource_tags": "(*Repository).ResourceTags",
    "ecr_repository_foreach": "(*Registry).ForeachRepository",
    "ecr_repository_lifecycle_preview": "(*Repository).LifecyclePreviewFunc",
    "ecr_repository_apply_lifecycle": "(*Repository).ApplyLifecycle",
    "ecr_upload_begin": "(*Repository).BeginUpload",
    "ecr_upload_id": "(*Upload).ID",
    "ecr_upload_size": "(*Upload).Size",
    "ecr_upload_write": "(*Upload).Write",
    "ecr_upload_commit": "(*Upload).Commit",
    "ecr_upload_cancel": "(*Upload).Cancel",
    "ecr_blob_stat": "(*Repository).StatBlob",
    "ecr_blob_open": "(*Repository).OpenBlob",
    "ecr_blob_size": "(*BlobReader).Size",
    "ecr_blob_read": "(*BlobReader).Read",
    "ecr_blob_put": "(*Repository).PutBlob",
    "ecr_image_put": "(*Repository).PutImage",
    "ecr_image_get": "(*Repository).Image",
    "ecr_image_delete": "(*Repository).DeleteImage",
    "ecr_image_digest": "(*Image).Digest",
    "ecr_image_manifest": "(*Image).Manifest",
    "ecr_image_list_options_init": "(*Repository).ImagesWith",
    "ecr_image_iterator_new": "(*Repository).ImagesWith",
    "ecr_policy_parse": "ParsePolicy",
    "ecr_policy_request_init": "(*Policy).Evaluate",
    "ecr_policy_evaluate": "(*Policy).Evaluate",
    "ecr_lifecycle_policy_evaluate": "(*LifecyclePolicy).Evaluate",
    "ecr_principal_policies": "(*Principal).Policies",
    "ecr_sigv4_request_init": "(*Registry).VerifySigV4",
    "ecr_auth_sigv4_verify": "(*Registry).VerifySigV4",
    "ecr_authorize": "(*Registry).Authorize",
    "ecr_scan_options_init": "ScanImage",
    "ecr_scan_image": "ScanImage",
    "ecr_scan_layout": "ScanLayout",
    "ecr_scan_report_finding": "(*ScanReport).Finding",
    "ecr_copy_options_init": "CopyImage",
    "ecr_image_copy": "CopyImage",
    "ecr_image_replication_status": "(*Repository).ReplicationStatus",
    "ecr_replicator_options_init": "NewReplicator",
    "ecr_replicator_new": "NewReplicator",
    "ecr_cache_options_init": "NewCache",
    "ecr_cache_new": "NewCache",
    "ecr_usage_init": "(*Registry).Usage",
    "ecr_registry_usage": "(*Registry).Usage",
    "ecr_repository_usage": "(*Repository).Usage",
    "ecr_registry_usage_foreach": "(*Registry).UsageForeach",
    "ecr_price_table_default": "DefaultPriceTable",
    "ecr_price_table_parse": "ParsePriceTable",
    "ecr_usage_estimate": "Usage.Estimate",
    "ecr_registry_stats": "(*Registry).Stats",
    "ecr_fsck_options_init": "(*Registry).Fsck",
    "ecr_registry_fsck": "(*Registry).Fsck",
    "ecr_event_to_json": "(*Event).JSON",
    "ecr_webhooks_options_init": "NewWebhooks",
    "ecr_webhooks_new": "NewWebhooks",
    "ecr_webhooks_stats": "(*Webhooks).Stats",
    "ecr_webhooks_event_cb": "Open (Options.Webhooks)",
    "ecr_server_add_metrics_cb": "(*Server).AddMetricsFunc",
    "ecr_server_options_init": "NewServer",
    "ecr_server_new": "NewServer",
    "ecr_server_add_registry": "NewServer",
    "ecr_server_start": "NewServer",
    "ecr_server_port": "(*Server).Port",
    "ecr_server_set_registry_cb": "(*Server).SetRegistryFunc",
    "ecr_registry_credentials_foreach": "(*Registry).CredentialsForeach",
    "ecr_public_registries_foreach": "(*Registry).PublicRegistriesForeach",
}

# C functions with no Go path, and why.
GO_EXCLUDED = {
    "ecr_buf_dispose": "results are copied into Go strings; an ecr_buf never reaches Go code",
    "ecr_set_allocator": "sys/alloc.h: a C allocator vtable for C embedders, set before any other call",
    "ecr_blob_store_init": "sys/blob_store.h: for C authors of blob store backends (a vtable of C functions)",
    "ecr_meta_store_init": "sys/meta_store.h: for C authors of metadata store backends (a vtable of C functions)",
    "ecr_registry_open_transport": "sys/transport.h: for C authors of transports (a vtable of C functions)",
    "ecr_registry_transport": "sys/transport.h: returns the C transport vtable, for C transport authors",
    "ecr_transport_fail": "sys/transport.h: sets the error inside a C transport callback",
}

GO_INITIALISMS = {"id": "ID", "arn": "ARN", "uri": "URI", "url": "URL", "ecr": "ECR", "sbom": "SBOM", "oci": "OCI",
                  "fd": "FD", "sigv4": "SigV4", "ms": "Ms", "json": "JSON"}

# int results that carry a value (not a 0-or-negative code only): (Go type, conversion).
GO_INT_VALUES = {
    "ecr_repository_scan_on_push": "bool", "ecr_principal_is_admin": "bool", "ecr_registry_is_public": "bool",
    "ecr_repository_tag_is_mutable": "bool", "ecr_cache_covers": "bool",
}

GO_SCALAR_GO = {
    "int": "int", "unsigned int": "uint", "unsigned": "uint", "long": "int64", "unsigned long": "uint64",
    "long long": "int64", "unsigned long long": "uint64", "short": "int16", "unsigned short": "uint16",
    "_Bool": "bool", "bool": "bool", "double": "float64", "float": "float32", "size_t": "int",
    "int8_t": "int8", "int16_t": "int16", "int32_t": "int32", "int64_t": "int64",
    "uint8_t": "uint8", "uint16_t": "uint16", "uint32_t": "uint32", "uint64_t": "uint64",
}


def go_camel(name):
    return "".join(GO_INITIALISMS.get(p, p[:1].upper() + p[1:]) for p in name.split("_") if p)


class GoApi:
    def __init__(self, model):
        self.m = model
        hdr = model.hdr
        self.handles = {}  # C struct tag -> Go type name
        for s in hdr.structs:
            if (s.opaque and s.name not in GO_HANDLE_SKIP) or s.name in GO_HANDLE_EXTRA:
                self.handles[s.name] = GO_HANDLE_NAMES.get(s.name, go_camel(s.name[4:]))
        self.frees = {}  # handle -> free function
        for f in hdr.functions:
            if f.restype == "void" and len(f.param_nodes) == 1:
                h = self.handle_of(f.param_nodes[0][1])
                if h and f.name == h + "_free":
                    self.frees[h] = f.name

    # type helpers
    def base(self, node):
        """(name, const) of a TypeDecl's identifier or struct, else (None, False)."""
        if isinstance(node, c_ast.TypeDecl):
            t = node.type
            if isinstance(t, c_ast.IdentifierType):
                name = " ".join(t.names)
                td = self.m.typedefs.get(name)
                if td is not None and td.kind == "struct":
                    name = self.m.struct_typedef[name]
                return name, "const" in node.quals
            if isinstance(t, c_ast.Struct):
                return t.name, "const" in node.quals
        return None, False

    def handle_of(self, node):
        """The handle tag of `T *` / `const T *`, else None."""
        if isinstance(node, c_ast.PtrDecl):
            name, _ = self.base(node.type)
            if name in self.handles:
                return name
        return None

    def scalar(self, node):
        """(go type, C cast, is_enum) of a scalar or enum TypeDecl, else None."""
        name, _ = self.base(node)
        if name is None:
            return None
        if name in self.m.enum_names:
            return camel(name), "C." + name, True
        if name in GO_SCALAR_GO:
            return GO_SCALAR_GO[name], GO_SCALARS[name], False
        td = self.m.typedefs.get(name)
        if td is not None and td.kind == "enum":
            return camel(name), "C." + name, True
        return None

    def plan(self, f):
        """How f maps to Go: a dict, or a string saying why it cannot be generated."""
        params = f.param_nodes
        ins, outs, pre, post, args = [], [], [], [], []
        i = 0
        receiver = None
        while i < len(params):
            pname, node = params[i]
            pn = (pname or "a%d" % i)
            gn = re.sub(r"_(\w)", lambda m: m.group(1).upper(), pn)
            if gn in GO_KEYWORDS or gn in ("err", "rc", "ok"):
                gn += "_"
            nxt = params[i + 1] if i + 1 < len(params) else None
            nxt_t = ecr_header._type_text(nxt[1]) if nxt else ""
            t = ecr_header._type_text(node)
            h = self.handle_of(node)
            if h:
                if receiver is None and f.name.startswith(h + "_") and not h.endswith("_store"):
                    receiver = (gn, h)
                else:
                    ins.append("%s *%s" % (gn, self.handles[h]))
                args.append("%s.c()" % gn)
                i += 1
                continue
            if isinstance(node, c_ast.PtrDecl) and isinstance(node.type, c_ast.PtrDecl):
                inner = node.type
                h = self.handle_of(inner)
                if h and "const" not in getattr(inner.type, "quals", []):
                    v = "o%d" % i
                    pre.append("var %s *C.%s" % (v, h))
                    args.append("&" + v)
                    outs.append((self.handles[h], v, "handle", h))
                    i += 1
                    continue
                if t == "const char **":
                    v = "o%d" % i
                    pre.append("var %s *C.char" % v)
                    args.append("&" + v)
                    outs.append(("string", "C.GoString(%s)" % v, "value", None))
                    i += 1
                    continue
                if t == "const void **" and nxt_t == "size_t *":
                    v, n = "o%d" % i, "n%d" % i
                    pre.append("var %s unsafe.Pointer\n\tvar %s C.size_t" % (v, n))
                    args += ["&" + v, "&" + n]
                    outs.append(("[]byte", "C.GoBytes(%s, C.int(%s))" % (v, n), "value", None))
                    i += 2
                    continue
                if t == "const char * const *" and nxt_t == "size_t":
                    v = "c%d" % i
                    ins.append("%s []string" % gn)
                    pre.append("%s, free%d := cstrArray(%s)\n\tdefer free%d()" % (v, i, gn, i))
                    args += [v, "C.size_t(len(%s))" % gn]
                    i += 2
                    continue
                return "parameter %s: %s" % (pn, t)
            if t == "ecr_buf *":
                v = "b%d" % i
                pre.append("var %s C.ecr_buf\n\tdefer C.ecr_buf_dispose(&%s)" % (v, v))
                args.append("&" + v)
                outs.append(("string", "bufString(&%s)" % v, "value", None))
                i += 1
                continue
            if t == "const char *":
                if nxt_t == "size_t" and nxt[0] in ("len", pn + "_len"):
                    v = "c%d" % i
                    ins.append("%s string" % gn)
                    pre.append("%s := cstr(%s)\n\tdefer freeStr(%s)" % (v, gn, v))
                    args += [v, "C.size_t(len(%s))" % gn]
                    i += 2
                    continue
                v = "c%d" % i
                ins.append("%s string" % gn)
                pre.append("%s := cstrOrNil(%s)\n\tdefer freeStr(%s)" % (v, gn, v))
                args.append(v)
                i += 1
                continue
            if t == "const void *" and nxt_t == "size_t":
                v = "p%d" % i
                ins.append("%s []byte" % gn)
                pre.append("%s, free%d := cbytes(%s)\n\tdefer free%d()" % (v, i, gn, i))
                args += [v, "C.size_t(len(%s))" % gn]
                i += 2
                continue
            if isinstance(node, c_ast.PtrDecl) and not (isinstance(node.type, c_ast.TypeDecl) and
                                                        "const" in node.type.quals):
                sc = self.scalar(node.type)
                if sc:
                    gt, ct, _ = sc
                    v = "o%d" % i
                    pre.append("var %s %s" % (v, ct))
                    args.append("&" + v)
                    outs.append((gt, "%s(%s)" % (gt, v), "value", None))
                    i += 1
                    continue
                return "parameter %s: %s" % (pn, t)
            sc = self.scalar(node)
            if sc:
                gt, ct, _ = sc
                ins.append("%s %s" % (gn, gt))
                args.append("%s(%s)" % (ct, gn))
                i += 1
                continue
            return "parameter %s: %s" % (pn, t)
        # the result
        rt = f.restype
        res = None
        checked = False
        if rt == "void":
            res = None
        elif rt == "int" and f.name in GO_INT_VALUES:
            checked = True
            res = ("bool", "rc != 0")
        elif rt == "int" and f.name not in NOT_CODES:
            checked = True
        elif rt == "const char *":
            res = ("string", "C.GoString(r)")
        else:
            sc = self.scalar(f.restype_node)
            if sc is None:
                return "result: %s" % rt
            res = (sc[0], "%s(r)" % sc[0])
        return {"receiver": receiver, "ins": ins, "outs": outs, "pre": pre, "args": args, "res": res,
                "checked": checked}

    def name_of(self, f, plan):
        if plan["receiver"]:
            h = plan["receiver"][1]
            return "(*%s).%s" % (self.handles[h], go_camel(f.name[len(h) + 1:]))
        return go_camel(f.name[4:])

    def gen(self):
        hdr = self.m.hdr
        o = []
        w = o.append
        w("// Code generated by bindings/gen/gen_bindings.py from include/; DO NOT EDIT.\n\n")
        w("package ecr\n\n/*\n#include <stdlib.h>\n#include <ecr.h>\n#include <ecr/sys/blob_store.h>\n"
          "#include <ecr/sys/meta_store.h>\n#include <ecr/sys/transport.h>\n*/\nimport \"C\"\n\nimport (\n\t\"runtime\"\n\t\"unsafe\"\n)\n\n")
        w("var _ unsafe.Pointer\n")
        # handle types
        for tag, gt in sorted(self.handles.items(), key=lambda kv: kv[1]):
            s = self.m.structs[tag]
            w("\n")
            w(go_comment("%s is the Go handle of %s%s" % (gt, tag, (": " + s.doc.split("\n")[0]) if s.doc else ".")))
            w("type %s struct {\n\tptr   *C.%s\n\towned bool\n\tkeep  []any // what must outlive the handle\n}\n" %
              (gt, tag))
            w("\n// wrap%s wraps a C handle (nil for NULL); an owned one is freed by Close or a finalizer.\n" % gt)
            w("func wrap%s(ptr *C.%s, owned bool, keep ...any) *%s {\n\tif ptr == nil {\n\t\treturn nil\n\t}\n" %
              (gt, tag, gt))
            w("\th := &%s{ptr: ptr, owned: owned, keep: keep}\n" % gt)
            if tag in self.frees:
                w("\tif owned {\n\t\truntime.SetFinalizer(h, (*%s).Close)\n\t}\n" % gt)
            w("\treturn h\n}\n")
            w("\nfunc (h *%s) c() *C.%s {\n\tif h == nil {\n\t\treturn nil\n\t}\n\treturn h.ptr\n}\n" % (gt, tag))
            w("\n// CPtr is the C pointer (%s *), for code that calls C itself.\n" % tag)
            w("func (h *%s) CPtr() unsafe.Pointer { return unsafe.Pointer(h.c()) }\n" % gt)
            if tag in self.frees:
                w("\n// Close frees the handle (%s); a borrowed handle is only forgotten.\n" % self.frees[tag])
                w("func (h *%s) Close() error {\n\tif h != nil && h.ptr != nil {\n\t\tif h.owned {\n" % gt)
                w("\t\t\tC.%s(h.ptr)\n\t\t\truntime.SetFinalizer(h, nil)\n\t\t}\n\t\th.ptr = nil\n" % self.frees[tag])
                w("\t\tfor _, k := range h.keep {\n\t\t\tif r, ok := k.(releaser); ok {\n\t\t\t\tr.release()\n"
                  "\t\t\t}\n\t\t}\n\t\th.keep = nil\n\t}\n\treturn nil\n}\n")
        # functions
        api, skipped = [], []
        for f in hdr.functions:
            if f.name in self.frees.values():
                api.append((f.name, "(*%s).Close" % self.handles[[h for h, n in self.frees.items() if n == f.name][0]]))
                continue
            if f.name in GO_HANDWRITTEN or f.name in GO_EXCLUDED:
                continue
            plan = self.plan(f)
            if isinstance(plan, str):
                skipped.append((f.name, plan))
                continue
            name = self.name_of(f, plan)
            api.append((f.name, name))
            self.emit(w, f, plan, name)
        w("\n// generatedAPI maps each C function of the generated exported layer to its Go path\n"
          "// (Close methods included).\nvar generatedAPI = map[string]any{\n")
        for c, g in api:
            w("\t%s: %s,\n" % (json.dumps(c), g))
        w("}\n")
        w("\n// handWritten names the C functions whose Go path is written by hand (handWrittenAPI, api.go).\n"
          "var handWritten = map[string]string{\n")
        for c in sorted(GO_HANDWRITTEN):
            w("\t%s: %s,\n" % (json.dumps(c), json.dumps(GO_HANDWRITTEN[c])))
        w("}\n")
        w("\n// excludedAPI names the C functions with no Go path, and why.\nvar excludedAPI = map[string]string{\n")
        for c in sorted(GO_EXCLUDED):
            w("\t%s: %s,\n" % (json.dumps(c), json.dumps(GO_EXCLUDED[c])))
        w("}\n")
        w("\n// notGenerated: functions neither generated nor listed above (the generator's reasons).\n"
          "var notGenerated = map[string]string{\n")
        for c, why in skipped:
            w("\t%s: %s,\n" % (json.dumps(c), json.dumps(why)))
        w("}\n")
        return "".join(o)

    def emit(self, w, f, plan, name):
        recv = plan["receiver"]
        outs = plan["outs"]
        results = [o[0] if o[2] == "value" else "*" + o[0] for o in outs]
        if plan["res"]:
            results.append(plan["res"][0])
        if plan["checked"]:
            results.append("error")
        rs = ""
        if len(results) == 1:
            rs = " " + results[0]
        elif results:
            rs = " (" + ", ".join(results) + ")"
        gname = name.split(".")[-1]
        doc = f.signature() + (("\n\n" + f.doc) if f.doc else "")
        w("\n" + go_comment(doc))
        if recv:
            w("func (%s *%s) %s(%s)%s {\n" % (recv[0], self.handles[recv[1]], gname, ", ".join(plan["ins"]), rs))
            w("\tdefer runtime.KeepAlive(%s)\n" % recv[0])
        else:
            w("func %s(%s)%s {\n" % (gname, ", ".join(plan["ins"]), rs))
        for p in plan["pre"]:
            w("\t%s\n" % p)
        call = "C.%s(%s)" % (f.name, ", ".join(plan["args"]))
        keep = [a.split(".")[0] for a in plan["args"] if a.endswith(".c()")]
        if plan["checked"]:
            w("\truntime.LockOSThread()\n\tdefer runtime.UnlockOSThread()\n")
            w("\trc := %s\n" % call)
            zeros = []
            for o in outs:
                zeros.append("nil" if o[2] == "handle" else go_zero(o[0]))
            if plan["res"]:
                zeros.append(go_zero(plan["res"][0]))
            w("\tif rc < 0 {\n\t\treturn %s\n\t}\n" % ", ".join(zeros + ["lastError(rc)"]))
        elif plan["res"]:
            w("\tr := %s\n" % call)
        else:
            w("\t%s\n" % call)
        vals = []
        for o in outs:
            if o[2] == "handle":
                owned = "false" if f.name.endswith("_iterator_next") else "true"
                vals.append("wrap%s(%s, %s%s)" % (o[0], o[1], owned, "".join(", " + k for k in keep)))
            else:
                vals.append(o[1])
        if plan["res"]:
            vals.append(plan["res"][1])
        if plan["checked"]:
            vals.append("nil")
        if vals:
            w("\treturn %s\n" % ", ".join(vals))
        w("}\n")


def go_zero(t):
    if t == "string":
        return '""'
    if t == "bool":
        return "false"
    if t.startswith("[]") or t.startswith("*"):
        return "nil"
    return "0"


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
    api_text = GoApi(model).gen()
    gofmt = os.environ.get("GOFMT") or shutil.which("gofmt") or "/usr/lib/go/bin/gofmt"
    if not os.path.exists(gofmt):
        print("gen_bindings: gofmt not found (Debian: golang-go)", file=sys.stderr)
        return 1
    proc = subprocess.run([gofmt], input=go_text.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        print("gen_bindings: gofmt failed:\n" + proc.stderr.decode(errors="replace"), file=sys.stderr)
        return 1
    go_text = proc.stdout.decode()
    proc = subprocess.run([gofmt], input=api_text.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        print("gen_bindings: gofmt failed on zz_api.go:\n" + proc.stderr.decode(errors="replace"), file=sys.stderr)
        return 1
    api_text = proc.stdout.decode()
    for rel, text in ((PY_OUT, gen_python(model)), (GO_OUT, go_text), (GO_API_OUT, api_text)):
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
