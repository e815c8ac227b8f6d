// Small hostile env files: each is a few lines that would run for minutes (or forever) without
// the cost budget. Shared by bench/plan.bench.ts (their times) and the tests (their errors).
export const HOSTILE_FILES: Record<string, string> = {
  'x in big_list': 'l = list(range(1000000))\nfor i in range(1000000000):\n    x = -1 in l\n',
  'list.insert(0, ...)': 'l = []\nfor i in range(1000000000):\n    l.insert(0, i)\n',
  'list.pop(0)': 'l = list(range(1000000))\nfor i in range(1000000):\n    l.pop(0)\n',
  'string scan': 's = "x" * 5000000\nfor i in range(1000000000):\n    s.find("y")\n',
  'string equality': 's = "x" * 5000000\nt = "x" * 4999999 + "x"\nfor i in range(1000000000):\n    x = s == t\n',
  'string compare': 's = "x" * 5000000\nt = "x" * 4999999 + "y"\nfor i in range(1000000000):\n    x = s < t\n',
  'shared-structure equality': 'a = []\nb = []\nfor i in range(60):\n    a = [a, a]\n    b = [b, b]\nx = a == b\n',
  'shared-structure repr': 'a = []\nfor i in range(60):\n    a = [a, a]\nx = str(a)\n',
  'shared tuples as dict key': 'a = ()\nfor i in range(60):\n    a = (a, a)\nd = {a: 1}\n',
  'sorted over and over': 'l = list(range(1000000))\nfor i in range(1000000000):\n    x = sorted(l)\n',
  'slices over and over': 'l = list(range(1000000))\nfor i in range(1000000000):\n    x = l[::-1]\n',
  'big int products': 'x = 1 << 99000\nfor i in range(1000000000):\n    y = x * x // x\n',
  'string replace': 's = "ab" * 1000000\nfor i in range(1000000000):\n    t = s.replace("a", "c")\n',
  'dict items': 'd = {i: i for i in range(1000000)}\nfor i in range(1000000000):\n    x = d.items()\n',
  'nested comprehension': 'x = [[j for j in range(10000)] for i in range(10000)]\n',
  'percent format': 's = "%s" * 100000\nt = tuple(range(100000))\nfor i in range(1000000000):\n    x = s % t\n',
  'join': 'l = ["x" * 1000] * 10000\nfor i in range(1000000000):\n    x = ",".join(l)\n',
  'list equality': 'a = list(range(1000000))\nb = list(range(1000000))\nfor i in range(1000000000):\n    x = a == b\n',
  'set-like dict of tuples': 'd = {}\nfor i in range(1000000000):\n    d[(i, i, i, i, i, i, i, i)] = i\n',
  'int to string': 'x = 1 << 99000\nfor i in range(1000000000):\n    s = str(x)\n',
};
HOSTILE_FILES['plain loop'] = 'for i in range(1000000000):\n    pass\n';
HOSTILE_FILES['function calls'] = 'def f(x):\n    return x\nfor i in range(1000000000):\n    f(i)\n';
HOSTILE_FILES['big int quotients'] = 'x = (1 << 99000) - 1\ny = (1 << 49000) - 1\nfor i in range(1000000000):\n    z = x // y\n';
HOSTILE_FILES['big int parsing'] = 's = "9" * 10000\nfor i in range(1000000000):\n    z = int(s)\n';
