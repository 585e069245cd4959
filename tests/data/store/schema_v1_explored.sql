-- A database written by schema version 1, with three small simulated runs
-- (joint, separate depth 2, tests-only) and then every app action of that version on
-- each: human feedback, repairs from human and model feedback, rerun branches,
-- explain, re-execute, the annotation queue. Never regenerate it.
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'repair_tui','m001_create_schema','2026-12-07 13:25:29.724715+00:00');
CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            key TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('generate', 'feedback', 'repair', 'joint')),
            model TEXT NOT NULL,
            messages_json TEXT NOT NULL DEFAULT '[]',
            params_json TEXT NOT NULL DEFAULT '{}',
            response_json TEXT NOT NULL DEFAULT 'null',
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            latency REAL NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
            error TEXT,
            prompt_version TEXT,
            created_utc TEXT NOT NULL,
            UNIQUE (run_id, key),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        );
INSERT INTO "calls" VALUES(1,1,'HumanEval/0','generate|HumanEval/0|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n"}]','{"n":3,"temperature":0.8,"max_tokens":1024,"seed":175962326}','[{"id":"chatcmpl-sim-9b81be8ecc8637c89074ef5d","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is my implementation:\n\n```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":2,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return True\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":322,"completion_tokens":554,"total_tokens":876}}]',322,554,3.15787587999977858999e-01,1,'ok',NULL,'generate-v1','2026-12-07T13:25:30.301+00:00');
INSERT INTO "calls" VALUES(2,1,'HumanEval/1','generate|HumanEval/1|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n"}]','{"n":3,"temperature":0.8,"max_tokens":1024,"seed":1072495541}','[{"id":"chatcmpl-sim-d9058fea0c286bca6f2df5d4","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\nfrom typing import List\n\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":2,"message":{"role":"assistant","content":"Here is a solution:\n\n```python\n\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    # read the input\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":313,"completion_tokens":618,"total_tokens":931}}]',313,618,0.00934428900001194,1,'ok',NULL,'generate-v1','2026-12-07T13:25:30.314+00:00');
INSERT INTO "calls" VALUES(3,1,'HumanEval/2','generate|HumanEval/2|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n"}]','{"n":3,"temperature":0.8,"max_tokens":1024,"seed":1631899502}','[{"id":"chatcmpl-sim-9f245ed42d1ca7c1563e4b2c","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    # done\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is a solution:\n\n```python\n# Solution\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":2,"message":{"role":"assistant","content":"Here is a solution:\n\n```python\n\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":283,"completion_tokens":303,"total_tokens":586}}]',283,303,2.08260900001278059789e-03,1,'ok',NULL,'generate-v1','2026-12-07T13:25:30.324+00:00');
INSERT INTO "calls" VALUES(4,1,'HumanEval/3','generate|HumanEval/3|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n"}]','{"n":3,"temperature":0.8,"max_tokens":1024,"seed":1510965774}','[{"id":"chatcmpl-sim-2ac63807a3470e2a486e790f","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a solution:\n\n```python\n\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        balance += op\n        if balance <= 0:\n            # done\n            return False\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\nfrom typing import List\n\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n    for op in operations:\n        balance += op\n        if balance > 1:\n            # return the result\n            return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":2,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        if balance <= 0:\n            return True\n\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":317,"completion_tokens":468,"total_tokens":785}}]',317,468,1.41875519999530297354e-02,1,'ok',NULL,'generate-v1','2026-12-07T13:25:30.343+00:00');
INSERT INTO "calls" VALUES(5,1,'HumanEval/0','joint|HumanEval/0|p2|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return True\n```\n\n### ERROR\nThe test assertion failed (line 11 of the tests):\nassert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\nits left side evaluated to:\nTrue\nand its right side to:\nFalse\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":625223901}','[{"id":"chatcmpl-sim-aaecb752a8ee4446c464acd3","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 13 does not handle the case where the input is empty.\n\n### FIXED PYTHON CODE\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 21 returns the wrong value: it returns `True` where it should return `False`. That is why the test fails (The test assertion failed (line 11 of the tests):).\n\n### FIXED PYTHON CODE\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":748,"completion_tokens":458,"total_tokens":1206}}]',748,458,1.70401629999901160772e-02,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.419+00:00');
INSERT INTO "calls" VALUES(6,1,'HumanEval/1','joint|HumanEval/1|p0|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:\n    current_string.append(c)\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1219294100}','[{"id":"chatcmpl-sim-ddec08fa4b92afcd8b3cd50f","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 21 does not handle the case where the input is empty.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The equality test on line 15 compares values of different types, so it is never true.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":708,"completion_tokens":441,"total_tokens":1149}}]',708,441,0.00678849899998113,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.439+00:00');
INSERT INTO "calls" VALUES(7,1,'HumanEval/2','joint|HumanEval/2|p0|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    # done\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":352052485}','[{"id":"chatcmpl-sim-b44d577e7db6c7b5c51255c9","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The result is computed for the wrong part of the input; the first element should be treated separately.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The program does not handle the edge case of an empty input or a single element.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":596,"completion_tokens":253,"total_tokens":849}}]',596,253,0.00976959000001898,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.462+00:00');
INSERT INTO "calls" VALUES(8,1,'HumanEval/2','joint|HumanEval/2|p1|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":303896629}','[{"id":"chatcmpl-sim-f6097d41d5d08be3c7f1ad0c","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The program does not handle the edge case of an empty input or a single element.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The result is computed for the wrong part of the input; the first element should be treated separately.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":595,"completion_tokens":253,"total_tokens":848}}]',595,253,0.00823889900004815,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.481+00:00');
INSERT INTO "calls" VALUES(9,1,'HumanEval/2','joint|HumanEval/2|p2|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1372042984}','[{"id":"chatcmpl-sim-401f31b9d95d7e7f086661b6","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The program does not handle the edge case of an empty input or a single element.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The result is computed for the wrong part of the input; the first element should be treated separately.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":592,"completion_tokens":253,"total_tokens":845}}]',592,253,2.89992099999381025554e-03,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.487+00:00');
INSERT INTO "calls" VALUES(10,1,'HumanEval/3','joint|HumanEval/3|p0|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        balance += op\n        if balance <= 0:\n            # done\n            return False\n\n    return False\n```\n\n### ERROR\nThe test assertion failed (line 12 of the tests):\nassert candidate([1, 2, -4, 5, 6]) == True\nits left side evaluated to:\nFalse\nand its right side to:\nTrue\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1559103430}','[{"id":"chatcmpl-sim-ded26a7f5fd64c04610f1373","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The update on line 16 happens in the wrong place; it must come before the check, not after it.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        balance -= op\n        if balance <= 0:\n            # done\n            return False\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 21 returns too early, before all of the input has been processed.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        balance += op\n        if balance <= 0:\n            # done\n            return False\n\n    return True\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":690,"completion_tokens":377,"total_tokens":1067}}]',690,377,0.0044235599999638,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.493+00:00');
INSERT INTO "calls" VALUES(11,1,'HumanEval/3','joint|HumanEval/3|p1|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n    for op in operations:\n        balance += op\n        if balance > 1:\n            # return the result\n            return True\n\n    return False\n```\n\n### ERROR\nRunning the tests, the program raised UnboundLocalError: cannot access local variable ''balance'' where it is not associated with a value at line 16 of the program:\n    balance += op\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1890727377}','[{"id":"chatcmpl-sim-d471cd3dc7baf659f9559455","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 21 returns too early, before all of the input has been processed.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n    for op in operations:\n        balance += op\n        if balance > 1:\n            # return the result\n            return True\n\n    return True\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 21 returns too early, before all of the input has been processed.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n    for op in operations:\n        balance += op\n        if balance > 1:\n            # return the result\n            return True\n\n    return True\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":678,"completion_tokens":362,"total_tokens":1040}}]',678,362,3.50829399997110158437e-03,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.498+00:00');
INSERT INTO "calls" VALUES(12,1,'HumanEval/3','joint|HumanEval/3|p2|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        if balance <= 0:\n            return True\n\n\n    return False\n```\n\n### ERROR\nThe test assertion failed (line 12 of the tests):\nassert candidate([1, 2, -4, 5, 6]) == True\nits left side evaluated to:\nFalse\nand its right side to:\nTrue\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1816833989}','[{"id":"chatcmpl-sim-de77f48a0cf7ba1537b3dc1d","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The comparison on line 16 should not be strict: equal values must be accepted too.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        if balance <= 1:\n            return True\n\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The comparison on line 16 should not be strict: equal values must be accepted too.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        if balance >= 0:\n            return True\n\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":681,"completion_tokens":356,"total_tokens":1037}}]',681,356,1.12434460000372382637e-02,1,'ok',NULL,'joint-v1','2026-12-07T13:25:30.511+00:00');
INSERT INTO "calls" VALUES(13,2,'HumanEval/0','generate|HumanEval/0|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1235423538}','[{"id":"chatcmpl-sim-023d54d9096818b21dff1e1d","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\nfrom typing import List\n\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    # return the result\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is my implementation:\n\n```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                # handle this case\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":322,"completion_tokens":370,"total_tokens":692}}]',322,370,1.23548299995945853879e-03,1,'ok',NULL,'generate-v1','2026-12-07T13:25:30.836+00:00');
INSERT INTO "calls" VALUES(14,2,'HumanEval/1','generate|HumanEval/1|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1838614813}','[{"id":"chatcmpl-sim-e973c159f478ca5c8addf706","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is my implementation:\n\n```python\n\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":313,"completion_tokens":412,"total_tokens":725}}]',313,412,6.25123200001098666689e-03,1,'ok',NULL,'generate-v1','2026-12-07T13:25:30.847+00:00');
INSERT INTO "calls" VALUES(15,2,'HumanEval/2','generate|HumanEval/2|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":2142856997}','[{"id":"chatcmpl-sim-dbde287885b7199540cde59a","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\n\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\n\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":283,"completion_tokens":199,"total_tokens":482}}]',283,199,0.00137614099998018,1,'ok',NULL,'generate-v1','2026-12-07T13:25:30.858+00:00');
INSERT INTO "calls" VALUES(16,2,'HumanEval/1','feedback|HumanEval/1|p0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:\n    return result\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":655316903}','[{"id":"chatcmpl-sim-09fa34ef28e4fefbe7b2a777","object":"chat.completion","created":1796649930,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The code forgets a step near line 13: the statement `result = []` is missing, so the result is never updated correctly. That is why the test fails (Running the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:)."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Line 21 does not handle the case where the input is empty."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":658,"completion_tokens":76,"total_tokens":734}}]',658,76,0.00922914799997443,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:30.920+00:00');
INSERT INTO "calls" VALUES(17,2,'HumanEval/1','feedback|HumanEval/1|p1|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":653605944}','[{"id":"chatcmpl-sim-c7282347a7bf9386e01a2c3a","object":"chat.completion","created":1796649930,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"On line 17 the comparison `c != ''(''` is inverted; it should read `c == ''(''`."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Line 21 does not handle the case where the input is empty."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":701,"completion_tokens":36,"total_tokens":737}}]',701,36,0.0084717850000402,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:30.930+00:00');
INSERT INTO "calls" VALUES(18,2,'HumanEval/2','feedback|HumanEval/2|p0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1017831570}','[{"id":"chatcmpl-sim-d6f927c5c2cf840e54f15818","object":"chat.completion","created":1796649930,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Line 10 returns the wrong value: it returns `number // 1.0` where it should return `number % 1.0`."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The result is computed for the wrong part of the input; the first element should be treated separately."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":537,"completion_tokens":50,"total_tokens":587}}]',537,50,1.40945099997225042898e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:30.940+00:00');
INSERT INTO "calls" VALUES(19,2,'HumanEval/2','feedback|HumanEval/2|p1|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":2086697747}','[{"id":"chatcmpl-sim-f9966fb3bf443bd44ec276e8","object":"chat.completion","created":1796649930,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The function does not handle negative numbers correctly."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The program does not handle the edge case of an empty input or a single element."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":537,"completion_tokens":26,"total_tokens":563}}]',537,26,1.87456999998403261997e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:30.943+00:00');
INSERT INTO "calls" VALUES(20,2,'HumanEval/1','repair|HumanEval/1|p0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:\n    return result\n\n### EXPLANATION\nThe code forgets a step near line 13: the statement `result = []` is missing, so the result is never updated correctly. That is why the test fails (Running the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1378263976}','[{"id":"chatcmpl-sim-8f84997450e8cf0019f86859","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":769,"completion_tokens":210,"total_tokens":979}}]',769,210,0.00603492999999844,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.950+00:00');
INSERT INTO "calls" VALUES(21,2,'HumanEval/1','repair|HumanEval/1|p0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:\n    return result\n\n### EXPLANATION\nLine 21 does not handle the case where the input is empty.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1748186082}','[{"id":"chatcmpl-sim-87117507fe54b3a46410fd7a","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":721,"completion_tokens":202,"total_tokens":923}}]',721,202,4.17924900000343768624e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.959+00:00');
INSERT INTO "calls" VALUES(22,2,'HumanEval/1','repair|HumanEval/1|p1|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nOn line 17 the comparison `c != ''(''` is inverted; it should read `c == ''(''`.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":743981837}','[{"id":"chatcmpl-sim-c4fbd6558e92246ccb2c8d4c","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":772,"completion_tokens":207,"total_tokens":979}}]',772,207,2.04611399999521381687e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.967+00:00');
INSERT INTO "calls" VALUES(23,2,'HumanEval/1','repair|HumanEval/1|p1|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nLine 21 does not handle the case where the input is empty.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1482226452}','[{"id":"chatcmpl-sim-94aabdc691c255f02f2f3b35","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":764,"completion_tokens":210,"total_tokens":974}}]',764,210,3.37944300002845920971e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.971+00:00');
INSERT INTO "calls" VALUES(24,2,'HumanEval/2','repair|HumanEval/2|p0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nLine 10 returns the wrong value: it returns `number // 1.0` where it should return `number % 1.0`.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1009775077}','[{"id":"chatcmpl-sim-dec5bfa118d414eac9c48fed","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":616,"completion_tokens":97,"total_tokens":713}}]',616,97,1.4575920000083897321e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.973+00:00');
INSERT INTO "calls" VALUES(25,2,'HumanEval/2','repair|HumanEval/2|p0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe result is computed for the wrong part of the input; the first element should be treated separately.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":452683999}','[{"id":"chatcmpl-sim-950012a9bd7933e35de00b33","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":606,"completion_tokens":99,"total_tokens":705}}]',606,99,1.15661600000294129131e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.975+00:00');
INSERT INTO "calls" VALUES(26,2,'HumanEval/2','repair|HumanEval/2|p1|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe function does not handle negative numbers correctly.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1474146443}','[{"id":"chatcmpl-sim-1f46aed90317726826500bcc","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":595,"completion_tokens":102,"total_tokens":697}}]',595,102,1.62873499999705018126e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.979+00:00');
INSERT INTO "calls" VALUES(27,2,'HumanEval/2','repair|HumanEval/2|p1|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe program does not handle the edge case of an empty input or a single element.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1690291816}','[{"id":"chatcmpl-sim-0a96eaac836c7c06b83f53ea","object":"chat.completion","created":1796649930,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":603,"completion_tokens":99,"total_tokens":702}}]',603,99,1.35961600000200633076e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:30.982+00:00');
INSERT INTO "calls" VALUES(28,2,'HumanEval/1','feedback|HumanEval/1|p1|f0|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1783357915}','[{"id":"chatcmpl-sim-8f682acbe18ee7a036ec1365","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The expression `current_depth -= 1` on line 18 combines its operands the wrong way; it should be `current_depth += 1`."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Line 18 uses the wrong operator: `current_depth -= 1` should be `current_depth += 1`."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":701,"completion_tokens":54,"total_tokens":755}}]',701,54,3.53580400002329042763e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.019+00:00');
INSERT INTO "calls" VALUES(29,2,'HumanEval/1','feedback|HumanEval/1|p1|f1|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[''(()()) ('', ''(())) () ((('']\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1532784146}','[{"id":"chatcmpl-sim-feab5d636a898b55a59857a1","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The equality test on line 24 compares values of different types, so it is never true."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"On line 17 the comparison `c != ''(''` is inverted; it should read `c == ''(''`. That is why the test fails (The test assertion failed (line 10 of the tests):)."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":712,"completion_tokens":61,"total_tokens":773}}]',712,61,3.42978700001594916102e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.023+00:00');
INSERT INTO "calls" VALUES(30,2,'HumanEval/1','repair|HumanEval/1|p1|f0|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nThe expression `current_depth -= 1` on line 18 combines its operands the wrong way; it should be `current_depth += 1`.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":822888422}','[{"id":"chatcmpl-sim-a0d214bada5649f4168d8ea8","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":780,"completion_tokens":207,"total_tokens":987}}]',780,207,8.85391099996013508643e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.033+00:00');
INSERT INTO "calls" VALUES(31,2,'HumanEval/1','repair|HumanEval/1|p1|f0|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nLine 18 uses the wrong operator: `current_depth -= 1` should be `current_depth += 1`.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":128655503}','[{"id":"chatcmpl-sim-9139c3d51229164d3a631cac","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":774,"completion_tokens":205,"total_tokens":979}}]',774,205,3.90904699997918214648e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.044+00:00');
INSERT INTO "calls" VALUES(32,2,'HumanEval/1','repair|HumanEval/1|p1|f1|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[''(()()) ('', ''(())) () ((('']\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nThe equality test on line 24 compares values of different types, so it is never true.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1148737794}','[{"id":"chatcmpl-sim-438a3b264b75991271bf9f40","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":780,"completion_tokens":185,"total_tokens":965}}]',780,185,3.77928500000734857167e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.055+00:00');
INSERT INTO "calls" VALUES(33,2,'HumanEval/1','repair|HumanEval/1|p1|f1|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[''(()()) ('', ''(())) () ((('']\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nOn line 17 the comparison `c != ''(''` is inverted; it should read `c == ''(''`. That is why the test fails (The test assertion failed (line 10 of the tests):).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1674205990}','[{"id":"chatcmpl-sim-5418709e317f97f684b73bd1","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":803,"completion_tokens":210,"total_tokens":1013}}]',803,210,3.90728499996839673258e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.069+00:00');
INSERT INTO "calls" VALUES(34,2,'HumanEval/2','feedback|HumanEval/2|p0|f0|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":973565566}','[{"id":"chatcmpl-sim-edf087487fd33dfa159f8457","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The function does not handle negative numbers correctly."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The function does not handle negative numbers correctly."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":537,"completion_tokens":18,"total_tokens":555}}]',537,18,1.58649300004753968096e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.078+00:00');
INSERT INTO "calls" VALUES(35,2,'HumanEval/2','feedback|HumanEval/2|p0|f1|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":8094926}','[{"id":"chatcmpl-sim-ba091cb0db191b4b1b84617b","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The function does not handle negative numbers correctly."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):)."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":537,"completion_tokens":57,"total_tokens":594}}]',537,57,1.14934499998753381078e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.082+00:00');
INSERT INTO "calls" VALUES(36,2,'HumanEval/1','feedback|HumanEval/1|p0|f0|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":608833815}','[{"id":"chatcmpl-sim-14d7582789d1f79081ebf8ad","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"On line 21 the comparison `c != '')''` is inverted; it should read `c == '')''`. That is why the test fails (The test assertion failed (line 10 of the tests):)."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Line 29 returns too early, before all of the input has been processed."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":704,"completion_tokens":58,"total_tokens":762}}]',704,58,1.38126659999784351384e-02,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.097+00:00');
INSERT INTO "calls" VALUES(37,2,'HumanEval/1','feedback|HumanEval/1|p0|f1|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 27 of the program:\n    return result\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1907014122}','[{"id":"chatcmpl-sim-d4a5ccdf1169dba5ba693bde","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Line 27 returns too early, before all of the input has been processed."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The code forgets a step near line 13: the statement `result = []` is missing, so the result is never updated correctly."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":651,"completion_tokens":45,"total_tokens":696}}]',651,45,0.00818283699999256,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.106+00:00');
INSERT INTO "calls" VALUES(38,2,'HumanEval/2','feedback|HumanEval/2|p1|f0|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":900337149}','[{"id":"chatcmpl-sim-c6210c48642206eed154b43c","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The program does not handle the edge case of an empty input or a single element."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):)."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":537,"completion_tokens":65,"total_tokens":602}}]',537,65,5.57412700004533689934e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.112+00:00');
INSERT INTO "calls" VALUES(39,2,'HumanEval/2','feedback|HumanEval/2|p1|f1|r0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":2020942618}','[{"id":"chatcmpl-sim-0fec421dab4b67da00c864e0","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):)."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The program does not handle the edge case of an empty input or a single element."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":537,"completion_tokens":65,"total_tokens":602}}]',537,65,3.42415900001924455864e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.117+00:00');
INSERT INTO "calls" VALUES(40,2,'HumanEval/2','repair|HumanEval/2|p0|f0|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe function does not handle negative numbers correctly.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":835767640}','[{"id":"chatcmpl-sim-4da6253e0a9e89cb04f4100b","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":595,"completion_tokens":97,"total_tokens":692}}]',595,97,1.4675760000386617321e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.124+00:00');
INSERT INTO "calls" VALUES(41,2,'HumanEval/2','repair|HumanEval/2|p0|f0|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe function does not handle negative numbers correctly.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":2034398076}','[{"id":"chatcmpl-sim-efd1be5cf16e7dc5797a3486","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":595,"completion_tokens":97,"total_tokens":692}}]',595,97,7.33985600004416482988e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.135+00:00');
INSERT INTO "calls" VALUES(42,2,'HumanEval/2','repair|HumanEval/2|p0|f1|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe function does not handle negative numbers correctly.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1694058225}','[{"id":"chatcmpl-sim-f7bb3c45fefa1bd80028e033","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":595,"completion_tokens":99,"total_tokens":694}}]',595,99,5.23498399996924490551e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.148+00:00');
INSERT INTO "calls" VALUES(43,2,'HumanEval/2','repair|HumanEval/2|p0|f1|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":734114116}','[{"id":"chatcmpl-sim-31ab36886acadca62b2a7bea","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":634,"completion_tokens":99,"total_tokens":733}}]',634,99,2.03029200002902143751e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.163+00:00');
INSERT INTO "calls" VALUES(44,2,'HumanEval/1','repair|HumanEval/1|p0|f0|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nOn line 21 the comparison `c != '')''` is inverted; it should read `c == '')''`. That is why the test fails (The test assertion failed (line 10 of the tests):).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1112349746}','[{"id":"chatcmpl-sim-36e555ed65a468daa3e01099","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":795,"completion_tokens":204,"total_tokens":999}}]',795,204,1.26922239999771591101e-02,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.178+00:00');
INSERT INTO "calls" VALUES(45,2,'HumanEval/1','repair|HumanEval/1|p0|f0|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nLine 29 returns too early, before all of the input has been processed.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1081874240}','[{"id":"chatcmpl-sim-52c82e456bcb89d1f412311d","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":769,"completion_tokens":213,"total_tokens":982}}]',769,213,1.321536000000378408e-02,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.198+00:00');
INSERT INTO "calls" VALUES(46,2,'HumanEval/1','repair|HumanEval/1|p0|f1|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 27 of the program:\n    return result\n\n### EXPLANATION\nLine 27 returns too early, before all of the input has been processed.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":784370589}','[{"id":"chatcmpl-sim-8df219cae13201a799c64f6c","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 1:\n                result.append(''''.join(current_string))\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":716,"completion_tokens":202,"total_tokens":918}}]',716,202,0.00843679299998712,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.214+00:00');
INSERT INTO "calls" VALUES(47,2,'HumanEval/1','repair|HumanEval/1|p0|f1|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 27 of the program:\n    return result\n\n### EXPLANATION\nThe code forgets a step near line 13: the statement `result = []` is missing, so the result is never updated correctly.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":647193560}','[{"id":"chatcmpl-sim-233c4a5b16a966f00021c03a","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n\n            current_string.append(c)\n        elif c != '')'':\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":729,"completion_tokens":201,"total_tokens":930}}]',729,201,3.47690600000305494177e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.219+00:00');
INSERT INTO "calls" VALUES(48,2,'HumanEval/2','repair|HumanEval/2|p1|f0|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe program does not handle the edge case of an empty input or a single element.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1172185202}','[{"id":"chatcmpl-sim-d208fad8f83d6b295405a349","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":603,"completion_tokens":102,"total_tokens":705}}]',603,102,2.2972269999854688649e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.223+00:00');
INSERT INTO "calls" VALUES(49,2,'HumanEval/2','repair|HumanEval/2|p1|f0|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1622475278}','[{"id":"chatcmpl-sim-2d266f037ee7d20e0c85eb2b","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":634,"completion_tokens":99,"total_tokens":733}}]',634,99,1.48113699998475567554e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.226+00:00');
INSERT INTO "calls" VALUES(50,2,'HumanEval/2','repair|HumanEval/2|p1|f1|r0|f0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1939485716}','[{"id":"chatcmpl-sim-c0070dffc1ef7bf079faf6a6","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":634,"completion_tokens":97,"total_tokens":731}}]',634,97,1.67683699999088275944e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.229+00:00');
INSERT INTO "calls" VALUES(51,2,'HumanEval/2','repair|HumanEval/2|p1|f1|r0|f1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe program does not handle the edge case of an empty input or a single element.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":879634086}','[{"id":"chatcmpl-sim-2ae0d34cf97deb06626831de","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":603,"completion_tokens":102,"total_tokens":705}}]',603,102,2.32678100002203791518e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.233+00:00');
INSERT INTO "calls" VALUES(52,3,'HumanEval/0','generate|HumanEval/0|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":202941155}','[{"id":"chatcmpl-sim-f9376153931e23833b76f6a5","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\n# Python 3\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                # check the condition\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\n# Python 3\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":322,"completion_tokens":375,"total_tokens":697}}]',322,375,1.2424529999748301634e-03,1,'ok',NULL,'generate-v1','2026-12-07T13:25:31.438+00:00');
INSERT INTO "calls" VALUES(53,3,'HumanEval/1','generate|HumanEval/1|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1307194757}','[{"id":"chatcmpl-sim-8cf83da45633cc3aeb9fc8e3","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is my implementation:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')''\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":313,"completion_tokens":413,"total_tokens":726}}]',313,413,2.34397600002012040931e-03,1,'ok',NULL,'generate-v1','2026-12-07T13:25:31.443+00:00');
INSERT INTO "calls" VALUES(54,3,'HumanEval/2','generate|HumanEval/2|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":108129102}','[{"id":"chatcmpl-sim-7fb28025d244999fbabf60d4","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\n# Approach: follow the specification directly.\n\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is my implementation:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    # return the result\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":283,"completion_tokens":212,"total_tokens":495}}]',283,212,1.34214999997084305505e-03,1,'ok',NULL,'generate-v1','2026-12-07T13:25:31.446+00:00');
INSERT INTO "calls" VALUES(55,3,'HumanEval/1','repair|HumanEval/1|p0|t0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. You are given the program and the error it produced. Write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')''\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe program does not compile: SyntaxError: expected '':'' (line 20)\n            elif c == '')''\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1745823509}','[{"id":"chatcmpl-sim-e80814a6b0fa01cb9363dc68","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth != 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":619,"completion_tokens":417,"total_tokens":1036}}]',619,417,6.16480299999011549516e-03,1,'ok',NULL,'tests-only-v1','2026-12-07T13:25:31.506+00:00');
INSERT INTO "calls" VALUES(56,3,'HumanEval/2','repair|HumanEval/2|p0|t0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. You are given the program and the error it produced. Write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Approach: follow the specification directly.\n\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":977470868}','[{"id":"chatcmpl-sim-2b2e4d7a394c91399755d70c","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":512,"completion_tokens":196,"total_tokens":708}}]',512,196,1.49086310000257071806e-02,1,'ok',NULL,'tests-only-v1','2026-12-07T13:25:31.525+00:00');
INSERT INTO "calls" VALUES(57,3,'HumanEval/2','repair|HumanEval/2|p1|t0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. You are given the program and the error it produced. Write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    # return the result\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":487327772}','[{"id":"chatcmpl-sim-4729728218fb75db95913d34","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":510,"completion_tokens":194,"total_tokens":704}}]',510,194,2.48768900002005466376e-03,1,'ok',NULL,'tests-only-v1','2026-12-07T13:25:31.534+00:00');
INSERT INTO "calls" VALUES(58,1,'HumanEval/0','repair|HumanEval/0|p2|h0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return True\n```\n\n### ERROR\nThe test assertion failed (line 11 of the tests):\nassert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\nits left side evaluated to:\nTrue\nand its right side to:\nFalse\n\n### EXPLANATION\nYou return the wrong value when the list is empty.\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1783656067}','[{"id":"chatcmpl-sim-19b9f8bb1f3b1d48ce4e95e6","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance > threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":753,"completion_tokens":372,"total_tokens":1125}}]',753,372,1.15838000000394458766e-02,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.631+00:00');
INSERT INTO "calls" VALUES(59,1,'HumanEval/0','repair|HumanEval/0|p2|f0|1','repair','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return True\n```\n\n### ERROR\nThe test assertion failed (line 11 of the tests):\nassert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\nits left side evaluated to:\nTrue\nand its right side to:\nFalse\n\n### EXPLANATION\nLine 13 does not handle the case where the input is empty.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1444134746}','[{"id":"chatcmpl-sim-05e8bfafc1a1c3c92dc4ce7e","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":756,"completion_tokens":193,"total_tokens":949}}]',756,193,1.56284389999541417637e-02,1,'ok',NULL,'repair-v1','2026-12-07T13:25:31.814+00:00');
INSERT INTO "calls" VALUES(60,1,'HumanEval/3','joint|HumanEval/3|p2|2','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        if balance <= 0:\n            return True\n\n\n    return False\n```\n\n### ERROR\nThe test assertion failed (line 12 of the tests):\nassert candidate([1, 2, -4, 5, 6]) == True\nits left side evaluated to:\nFalse\nand its right side to:\nTrue\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1785164638}','[{"id":"chatcmpl-sim-37496ff93116de9f6c1dd3bf","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 17 returns too early, before all of the input has been processed.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 1\n\n    for op in operations:\n        if balance <= 0:\n            return False\n\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 13 gets a boundary wrong. `1` includes or skips one element too many; use `0` instead.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 0\n\n    for op in operations:\n        if balance <= 0:\n            return True\n\n\n    return True\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":681,"completion_tokens":361,"total_tokens":1042}}]',681,361,8.01112200002762619988e-03,1,'ok',NULL,'joint-v1','2026-12-07T13:25:31.843+00:00');
INSERT INTO "calls" VALUES(61,1,'HumanEval/1','joint|HumanEval/1|p0|f0|r0|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:\n    current_string.append(c)\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":709322990}','[{"id":"chatcmpl-sim-7593a0ba8092112d828693bf","object":"chat.completion","created":1796649931,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The code forgets a step near line 12: the statement `result = []` is missing, so the result is never updated correctly. That is why the test fails (Running the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:).\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 24 does not handle the case where the input is empty.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":702,"completion_tokens":478,"total_tokens":1180}}]',702,478,6.66128060000232835591e-02,1,'ok',NULL,'joint-v1','2026-12-07T13:25:31.957+00:00');
INSERT INTO "calls" VALUES(62,1,'HumanEval/0','feedback|HumanEval/0|p2|2','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Approach: follow the specification directly.\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            # handle this case\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return True\n```\n\n### ERROR\nThe test assertion failed (line 11 of the tests):\nassert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\nits left side evaluated to:\nTrue\nand its right side to:\nFalse\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1011157689}','[{"id":"chatcmpl-sim-105da715294802467662acd1","object":"chat.completion","created":1796649931,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The return value on line 21 is wrong; `True` should be `False`."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":693,"completion_tokens":18,"total_tokens":711}}]',693,18,2.30545900001288828207e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:31.980+00:00');
INSERT INTO "calls" VALUES(63,1,'HumanEval/0','repair|HumanEval/0|p2|h0|r1|h0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance > threshold:\n                    return True\n\n    return False\n```\n\n### ERROR\nThe test assertion failed (line 11 of the tests):\nassert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\nits left side evaluated to:\nTrue\nand its right side to:\nFalse\n\n### EXPLANATION\nOff by one in the loop bound.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1113443553}','[{"id":"chatcmpl-sim-6e8d04fafd0f62e66f4c24b9","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance <= threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":736,"completion_tokens":182,"total_tokens":918}}]',736,182,3.07127500002479791874e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.004+00:00');
INSERT INTO "calls" VALUES(64,2,'HumanEval/1','repair|HumanEval/1|p0|h0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:\n    return result\n\n### EXPLANATION\nYou return the wrong value when the list is empty.\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":263010668}','[{"id":"chatcmpl-sim-55f37f43ae10c78a238faee4","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 2\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":718,"completion_tokens":413,"total_tokens":1131}}]',718,413,1.19729680000091320835e-02,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.033+00:00');
INSERT INTO "calls" VALUES(65,2,'HumanEval/1','repair|HumanEval/1|p0|f0|1','repair','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:\n    return result\n\n### EXPLANATION\nThe code forgets a step near line 13: the statement `result = []` is missing, so the result is never updated correctly. That is why the test fails (Running the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":747458131}','[{"id":"chatcmpl-sim-2f75793fbc0845e8eaf7f83c","object":"chat.completion","created":1796649932,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":769,"completion_tokens":210,"total_tokens":979}}]',769,210,1.80908300001192401396e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.059+00:00');
INSERT INTO "calls" VALUES(66,2,'HumanEval/2','feedback|HumanEval/2|p1|2','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1061852348}','[{"id":"chatcmpl-sim-7a6159f6e00b0ea7fbee0bf8","object":"chat.completion","created":1796649932,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The program does not handle the edge case of an empty input or a single element."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Line 11 returns the wrong value: it returns `number // 1.0` where it should return `number % 1.0`."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":537,"completion_tokens":47,"total_tokens":584}}]',537,47,1.52660500003776178346e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:32.070+00:00');
INSERT INTO "calls" VALUES(67,2,'HumanEval/2','repair|HumanEval/2|p1|f2|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nThe program does not handle the edge case of an empty input or a single element.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1696462233}','[{"id":"chatcmpl-sim-db73ea0d4574f3cdc9940e0b","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":603,"completion_tokens":102,"total_tokens":705}}]',603,102,5.37103599998545178095e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.076+00:00');
INSERT INTO "calls" VALUES(68,2,'HumanEval/2','repair|HumanEval/2|p1|f3|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n\n### EXPLANATION\nLine 11 returns the wrong value: it returns `number // 1.0` where it should return `number % 1.0`.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1992861960}','[{"id":"chatcmpl-sim-bd81b107642676b07c44ce8e","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":616,"completion_tokens":102,"total_tokens":718}}]',616,102,0.00151765099997192,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.086+00:00');
INSERT INTO "calls" VALUES(69,2,'HumanEval/1','feedback|HumanEval/1|p0|f0|r0|2','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1182815972}','[{"id":"chatcmpl-sim-95d2d26fded31f00b01d4857","object":"chat.completion","created":1796649932,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"On line 21 the comparison `c != '')''` is inverted; it should read `c == '')''`. That is why the test fails (The test assertion failed (line 10 of the tests):)."},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The condition on line 21 is the wrong way round: `c != '')''` should be `c == '')''`, so the branch is taken in exactly the wrong cases. That is why the test fails (The test assertion failed (line 10 of the tests):)."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":704,"completion_tokens":97,"total_tokens":801}}]',704,97,5.01246400000354697112e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:32.101+00:00');
INSERT INTO "calls" VALUES(70,2,'HumanEval/1','repair|HumanEval/1|p0|f0|r0|f2|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nOn line 21 the comparison `c != '')''` is inverted; it should read `c == '')''`. That is why the test fails (The test assertion failed (line 10 of the tests):).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1220860477}','[{"id":"chatcmpl-sim-377f750070e6950c1dfd5920","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":795,"completion_tokens":210,"total_tokens":1005}}]',795,210,3.07384899997487082146e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.105+00:00');
INSERT INTO "calls" VALUES(71,2,'HumanEval/1','repair|HumanEval/1|p0|f0|r0|f3|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nThe condition on line 21 is the wrong way round: `c != '')''` should be `c == '')''`, so the branch is taken in exactly the wrong cases. That is why the test fails (The test assertion failed (line 10 of the tests):).\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":720982725}','[{"id":"chatcmpl-sim-c7a37f763bb56804fcdc9709","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth != 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":808,"completion_tokens":208,"total_tokens":1016}}]',808,208,0.00276891600003637,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.108+00:00');
INSERT INTO "calls" VALUES(72,2,'HumanEval/1','feedback|HumanEval/1|p0|2','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:\n    return result\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":792727005}','[{"id":"chatcmpl-sim-13d50d2343b139559dab3252","object":"chat.completion","created":1796649932,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"A statement is missing around line 13: the program needs `result = []` there."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":658,"completion_tokens":19,"total_tokens":677}}]',658,19,2.84787399999686385854e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:32.128+00:00');
INSERT INTO "calls" VALUES(73,2,'HumanEval/1','repair|HumanEval/1|p1|h0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nOff by one in the loop bound.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1003010181}','[{"id":"chatcmpl-sim-d8fbff18bb94c1b4af430ff3","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":758,"completion_tokens":203,"total_tokens":961}}]',758,203,4.64714299999968716292e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.150+00:00');
INSERT INTO "calls" VALUES(74,3,'HumanEval/1','repair|HumanEval/1|p0|h0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')''\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe program does not compile: SyntaxError: expected '':'' (line 20)\n            elif c == '')''\n\n### EXPLANATION\nYou return the wrong value when the list is empty.\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":120300123}','[{"id":"chatcmpl-sim-b099631fc46ec04f627d8590","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 2\n            current_string.append(c)\n\n            if current_depth == 0:\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is a version with the bug fixed:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":712,"completion_tokens":411,"total_tokens":1123}}]',712,411,8.92007999999577805283e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.175+00:00');
INSERT INTO "calls" VALUES(75,3,'HumanEval/1','repair|HumanEval/1|p0|t0|2','repair','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. You are given the program and the error it produced. Write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')''\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe program does not compile: SyntaxError: expected '':'' (line 20)\n            elif c == '')''\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":1777272374}','[{"id":"chatcmpl-sim-2ddf7190cba440cd3b73be10","object":"chat.completion","created":1796649932,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":619,"completion_tokens":207,"total_tokens":826}}]',619,207,1.26333399998657114338e-03,1,'ok',NULL,'tests-only-v1','2026-12-07T13:25:32.210+00:00');
INSERT INTO "calls" VALUES(76,3,'HumanEval/2','repair|HumanEval/2|p1|t1|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. You are given the program and the error it produced. Write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    # return the result\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":102148003}','[{"id":"chatcmpl-sim-4062bac2cebe7ecd0b29c947","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":510,"completion_tokens":196,"total_tokens":706}}]',510,196,2.02577499999279098119e-03,1,'ok',NULL,'tests-only-v1','2026-12-07T13:25:32.220+00:00');
INSERT INTO "calls" VALUES(77,3,'HumanEval/1','repair|HumanEval/1|p0|t0|r0|t0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. You are given the program and the error it produced. Write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1681146070}','[{"id":"chatcmpl-sim-b2e066fb5f93cb14a27a04a2","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The corrected program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The corrected program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth -= 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":668,"completion_tokens":410,"total_tokens":1078}}]',668,410,1.29050500000289503077e-02,1,'ok',NULL,'tests-only-v1','2026-12-07T13:25:32.264+00:00');
INSERT INTO "calls" VALUES(78,3,'HumanEval/1','feedback|HumanEval/1|p0|0','feedback','sim-strong','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user debug a program that does not pass its tests. Give a concise explanation (at most 2-3 sentences) of what is wrong with the code: where the bug is and what the code should do instead. You will *not* write any code, because the user wants to fix the code themselves."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`."},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')''\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe program does not compile: SyntaxError: expected '':'' (line 20)\n            elif c == '')''\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":2034563083}','[{"id":"chatcmpl-sim-c9e8dd7fd1119a8f70e8c6e9","object":"chat.completion","created":1796649932,"model":"sim-strong","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Line 20 has a syntax error: `elif c == '')''` is not valid Python; it should be `elif c == '')'':`. That is why the test fails (The program does not compile: SyntaxError: expected '':'' (line 20))."},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":652,"completion_tokens":52,"total_tokens":704}}]',652,52,1.23661399999264176585e-03,1,'ok',NULL,'feedback-v1','2026-12-07T13:25:32.289+00:00');
INSERT INTO "calls" VALUES(79,3,'HumanEval/1','repair|HumanEval/1|p0|t0|r0|h0|0','repair','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. The user has debugged the program and gives you a concise explanation of what is wrong. Use this explanation to write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n\n### EXPLANATION\nThe test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\nits left side evaluated to:\n[]\nand its right side to:\n[''(()())'', ''((()))'', ''()'', ''((())()())'']\n\n### EXPLANATION\nOff by one in the loop bound.\n"}]','{"n":1,"temperature":0.8,"max_tokens":1024,"seed":565445087}','[{"id":"chatcmpl-sim-591924c84653035d813d8aa7","object":"chat.completion","created":1796649932,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"Here is the fixed program:\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c != '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth != 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":758,"completion_tokens":207,"total_tokens":965}}]',758,207,7.86413399998764361953e-03,1,'ok',NULL,'repair-v1','2026-12-07T13:25:32.307+00:00');
CREATE TABLE nodes (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            parent_id INTEGER REFERENCES nodes(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('program', 'feedback')),
            origin TEXT NOT NULL CHECK (origin IN ('model', 'human', 'tests')),
            model TEXT,
            text TEXT NOT NULL DEFAULT '',
            code TEXT,
            tokens INTEGER NOT NULL DEFAULT 0,
            passed INTEGER CHECK (passed IN (0, 1)),
            fault TEXT,
            error_message TEXT,
            isolation TEXT,
            depth INTEGER NOT NULL,
            sample_index INTEGER NOT NULL DEFAULT 0,
            call_id INTEGER REFERENCES calls(id) ON DELETE SET NULL,
            created_utc TEXT NOT NULL,
            executed_utc TEXT,
            exec_duration REAL,
            exec_extra_json TEXT NOT NULL DEFAULT '{}',
            meta_json TEXT NOT NULL DEFAULT '{}',
            seq INTEGER NOT NULL,
            UNIQUE (run_id, key),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        );
INSERT INTO "nodes" VALUES(1,1,'HumanEval/0',NULL,'HumanEval/0|p0','program','model','sim-weak','This program follows the specification:

```python
# Solution
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
```
','# Solution
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
',182,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,1,'2026-12-07T13:25:30.301+00:00','2026-12-07T13:25:30.400+00:00',0.063556,'{}','{}',13);
INSERT INTO "nodes" VALUES(2,1,'HumanEval/0',NULL,'HumanEval/0|p1','program','model','sim-weak','Here is my implementation:

```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:

                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
```
','from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:

                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
',178,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,1,'2026-12-07T13:25:30.301+00:00','2026-12-07T13:25:30.401+00:00',0.063841,'{}','{}',14);
INSERT INTO "nodes" VALUES(3,1,'HumanEval/0',NULL,'HumanEval/0|p2','program','model','sim-weak','The following program solves the problem.

```python
# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return True
```
','# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return True
',194,0,'assertion failed line 11','The test assertion failed (line 11 of the tests):
assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,2,1,'2026-12-07T13:25:30.301+00:00','2026-12-07T13:25:31.998+00:00',0.015634,'{}','{}',204);
INSERT INTO "nodes" VALUES(4,1,'HumanEval/1',NULL,'HumanEval/1|p0','program','model','sim-weak','The following program solves the problem.

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',199,0,'NameError line 18','Running the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,2,'2026-12-07T13:25:30.315+00:00','2026-12-07T13:25:30.431+00:00',0.094931,'{}','{}',20);
INSERT INTO "nodes" VALUES(5,1,'HumanEval/1',NULL,'HumanEval/1|p1','program','model','sim-weak','This program follows the specification:

```python
from typing import List



def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List



def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',207,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,2,'2026-12-07T13:25:30.315+00:00','2026-12-07T13:25:30.431+00:00',0.090209,'{}','{}',21);
INSERT INTO "nodes" VALUES(6,1,'HumanEval/1',NULL,'HumanEval/1|p2','program','model','sim-weak','Here is a solution:

```python

from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    # read the input
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    # read the input
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',212,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,2,2,'2026-12-07T13:25:30.315+00:00','2026-12-07T13:25:30.431+00:00',0.090033,'{}','{}',22);
INSERT INTO "nodes" VALUES(7,1,'HumanEval/2',NULL,'HumanEval/2|p0','program','model','sim-weak','The following program solves the problem.

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    # done
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    # done
    return number // 1.0
',104,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,3,'2026-12-07T13:25:30.327+00:00','2026-12-07T13:25:30.450+00:00',0.08251,'{}','{}',27);
INSERT INTO "nodes" VALUES(8,1,'HumanEval/2',NULL,'HumanEval/2|p1','program','model','sim-weak','Here is a solution:

```python
# Solution


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','# Solution


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',101,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,3,'2026-12-07T13:25:30.327+00:00','2026-12-07T13:25:30.450+00:00',0.102754,'{}','{}',28);
INSERT INTO "nodes" VALUES(9,1,'HumanEval/2',NULL,'HumanEval/2|p2','program','model','sim-weak','Here is a solution:

```python



def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',98,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,2,3,'2026-12-07T13:25:30.327+00:00','2026-12-07T13:25:30.450+00:00',0.121656,'{}','{}',29);
INSERT INTO "nodes" VALUES(10,1,'HumanEval/3',NULL,'HumanEval/3|p0','program','model','sim-weak','Here is a solution:

```python

from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        balance += op
        if balance <= 0:
            # done
            return False

    return False
```
','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        balance += op
        if balance <= 0:
            # done
            return False

    return False
',159,0,'assertion failed line 12','The test assertion failed (line 12 of the tests):
assert candidate([1, 2, -4, 5, 6]) == True
its left side evaluated to:
False
and its right side to:
True','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,4,'2026-12-07T13:25:30.344+00:00','2026-12-07T13:25:30.451+00:00',0.105665,'{}','{}',30);
INSERT INTO "nodes" VALUES(11,1,'HumanEval/3',NULL,'HumanEval/3|p1','program','model','sim-weak','The following program solves the problem.

```python
from typing import List



def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """

    for op in operations:
        balance += op
        if balance > 1:
            # return the result
            return True

    return False
```
','from typing import List



def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """

    for op in operations:
        balance += op
        if balance > 1:
            # return the result
            return True

    return False
',157,0,'UnboundLocalError line 16','Running the tests, the program raised UnboundLocalError: cannot access local variable ''balance'' where it is not associated with a value at line 16 of the program:
    balance += op','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,4,'2026-12-07T13:25:30.344+00:00','2026-12-07T13:25:30.451+00:00',0.104442,'{}','{}',31);
INSERT INTO "nodes" VALUES(12,1,'HumanEval/3',NULL,'HumanEval/3|p2','program','model','sim-weak','The following program solves the problem.

```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance <= 0:
            return True


    return False
```
','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance <= 0:
            return True


    return False
',152,0,'assertion failed line 12','The test assertion failed (line 12 of the tests):
assert candidate([1, 2, -4, 5, 6]) == True
its left side evaluated to:
False
and its right side to:
True','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,2,4,'2026-12-07T13:25:30.344+00:00','2026-12-07T13:25:30.451+00:00',0.105037,'{}','{}',32);
INSERT INTO "nodes" VALUES(13,1,'HumanEval/0',3,'HumanEval/0|p2|f0','feedback','model','sim-weak','Line 13 does not handle the case where the input is empty.',NULL,14,NULL,NULL,NULL,NULL,1,0,5,'2026-12-07T13:25:30.419+00:00',NULL,NULL,'{}','{"joint":true}',16);
INSERT INTO "nodes" VALUES(14,1,'HumanEval/0',13,'HumanEval/0|p2|f0|r0','program','model','sim-weak','```python
# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:

                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
```','# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:

                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
',202,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,5,'2026-12-07T13:25:30.419+00:00','2026-12-07T13:25:30.530+00:00',0.05855,'{}','{}',57);
INSERT INTO "nodes" VALUES(15,1,'HumanEval/0',3,'HumanEval/0|p2|f1','feedback','model','sim-weak','Line 21 returns the wrong value: it returns `True` where it should return `False`. That is why the test fails (The test assertion failed (line 11 of the tests):).',NULL,40,NULL,NULL,NULL,NULL,1,1,5,'2026-12-07T13:25:30.419+00:00',NULL,NULL,'{}','{"joint":true}',18);
INSERT INTO "nodes" VALUES(16,1,'HumanEval/0',15,'HumanEval/0|p2|f1|r0','program','model','sim-weak','```python
# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
```','# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
',202,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,5,'2026-12-07T13:25:30.419+00:00','2026-12-07T13:25:30.530+00:00',0.099665,'{}','{}',58);
INSERT INTO "nodes" VALUES(17,1,'HumanEval/1',4,'HumanEval/1|p0|f0','feedback','model','sim-weak','Line 21 does not handle the case where the input is empty.',NULL,14,NULL,NULL,NULL,NULL,1,0,6,'2026-12-07T13:25:30.439+00:00',NULL,NULL,'{}','{"joint":true}',23);
INSERT INTO "nodes" VALUES(18,1,'HumanEval/1',17,'HumanEval/1|p0|f0|r0','program','model','sim-weak','```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',201,0,'NameError line 18','Running the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,6,'2026-12-07T13:25:30.439+00:00','2026-12-07T13:25:30.531+00:00',0.091422,'{}','{}',59);
INSERT INTO "nodes" VALUES(19,1,'HumanEval/1',4,'HumanEval/1|p0|f1','feedback','model','sim-weak','The equality test on line 15 compares values of different types, so it is never true.',NULL,19,NULL,NULL,NULL,NULL,1,1,6,'2026-12-07T13:25:30.439+00:00',NULL,NULL,'{}','{"joint":true}',25);
INSERT INTO "nodes" VALUES(20,1,'HumanEval/1',19,'HumanEval/1|p0|f1|r0','program','model','sim-weak','```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c != ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c != ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',207,0,'NameError line 18','Running the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,6,'2026-12-07T13:25:30.439+00:00','2026-12-07T13:25:30.531+00:00',0.082762,'{}','{}',60);
INSERT INTO "nodes" VALUES(21,1,'HumanEval/2',7,'HumanEval/2|p0|f0','feedback','model','sim-weak','The result is computed for the wrong part of the input; the first element should be treated separately.',NULL,20,NULL,NULL,NULL,NULL,1,0,7,'2026-12-07T13:25:30.462+00:00',NULL,NULL,'{}','{"joint":true}',33);
INSERT INTO "nodes" VALUES(22,1,'HumanEval/2',21,'HumanEval/2|p0|f0|r0','program','model','sim-weak','```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',108,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,7,'2026-12-07T13:25:30.462+00:00','2026-12-07T13:25:30.557+00:00',0.068243,'{}','{}',61);
INSERT INTO "nodes" VALUES(23,1,'HumanEval/2',7,'HumanEval/2|p0|f1','feedback','model','sim-weak','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,1,1,7,'2026-12-07T13:25:30.462+00:00',NULL,NULL,'{}','{"joint":true}',35);
INSERT INTO "nodes" VALUES(24,1,'HumanEval/2',23,'HumanEval/2|p0|f1|r0','program','model','sim-weak','```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',108,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,7,'2026-12-07T13:25:30.462+00:00','2026-12-07T13:25:30.557+00:00',0.093963,'{}','{}',62);
INSERT INTO "nodes" VALUES(25,1,'HumanEval/2',8,'HumanEval/2|p1|f0','feedback','model','sim-weak','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,1,0,8,'2026-12-07T13:25:30.481+00:00',NULL,NULL,'{}','{"joint":true}',37);
INSERT INTO "nodes" VALUES(26,1,'HumanEval/2',25,'HumanEval/2|p1|f0|r0','program','model','sim-weak','```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',108,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,8,'2026-12-07T13:25:30.482+00:00','2026-12-07T13:25:30.558+00:00',0.075257,'{}','{}',63);
INSERT INTO "nodes" VALUES(27,1,'HumanEval/2',8,'HumanEval/2|p1|f1','feedback','model','sim-weak','The result is computed for the wrong part of the input; the first element should be treated separately.',NULL,20,NULL,NULL,NULL,NULL,1,1,8,'2026-12-07T13:25:30.482+00:00',NULL,NULL,'{}','{"joint":true}',39);
INSERT INTO "nodes" VALUES(28,1,'HumanEval/2',27,'HumanEval/2|p1|f1|r0','program','model','sim-weak','```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',108,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,8,'2026-12-07T13:25:30.482+00:00','2026-12-07T13:25:30.558+00:00',0.075166,'{}','{}',64);
INSERT INTO "nodes" VALUES(29,1,'HumanEval/2',9,'HumanEval/2|p2|f0','feedback','model','sim-weak','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,1,0,9,'2026-12-07T13:25:30.487+00:00',NULL,NULL,'{}','{"joint":true}',41);
INSERT INTO "nodes" VALUES(30,1,'HumanEval/2',29,'HumanEval/2|p2|f0|r0','program','model','sim-weak','```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',108,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,9,'2026-12-07T13:25:30.488+00:00','2026-12-07T13:25:30.582+00:00',0.093198,'{}','{}',65);
INSERT INTO "nodes" VALUES(31,1,'HumanEval/2',9,'HumanEval/2|p2|f1','feedback','model','sim-weak','The result is computed for the wrong part of the input; the first element should be treated separately.',NULL,20,NULL,NULL,NULL,NULL,1,1,9,'2026-12-07T13:25:30.488+00:00',NULL,NULL,'{}','{"joint":true}',43);
INSERT INTO "nodes" VALUES(32,1,'HumanEval/2',31,'HumanEval/2|p2|f1|r0','program','model','sim-weak','```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',108,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,9,'2026-12-07T13:25:30.488+00:00','2026-12-07T13:25:30.582+00:00',0.093451,'{}','{}',66);
INSERT INTO "nodes" VALUES(33,1,'HumanEval/3',10,'HumanEval/3|p0|f0','feedback','model','sim-weak','The update on line 16 happens in the wrong place; it must come before the check, not after it.',NULL,23,NULL,NULL,NULL,NULL,1,0,10,'2026-12-07T13:25:30.493+00:00',NULL,NULL,'{}','{"joint":true}',45);
INSERT INTO "nodes" VALUES(34,1,'HumanEval/3',33,'HumanEval/3|p0|f0|r0','program','model','sim-weak','```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        balance -= op
        if balance <= 0:
            # done
            return False

    return False
```','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        balance -= op
        if balance <= 0:
            # done
            return False

    return False
',169,0,'assertion failed line 12','The test assertion failed (line 12 of the tests):
assert candidate([1, 2, -4, 5, 6]) == True
its left side evaluated to:
False
and its right side to:
True','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,10,'2026-12-07T13:25:30.493+00:00','2026-12-07T13:25:30.583+00:00',0.088705,'{}','{}',67);
INSERT INTO "nodes" VALUES(35,1,'HumanEval/3',10,'HumanEval/3|p0|f1','feedback','model','sim-weak','Line 21 returns too early, before all of the input has been processed.',NULL,16,NULL,NULL,NULL,NULL,1,1,10,'2026-12-07T13:25:30.493+00:00',NULL,NULL,'{}','{"joint":true}',47);
INSERT INTO "nodes" VALUES(36,1,'HumanEval/3',35,'HumanEval/3|p0|f1|r0','program','model','sim-weak','```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        balance += op
        if balance <= 0:
            # done
            return False

    return True
```','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        balance += op
        if balance <= 0:
            # done
            return False

    return True
',169,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate([]) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,10,'2026-12-07T13:25:30.493+00:00','2026-12-07T13:25:30.583+00:00',0.088801,'{}','{}',68);
INSERT INTO "nodes" VALUES(37,1,'HumanEval/3',11,'HumanEval/3|p1|f0','feedback','model','sim-weak','Line 21 returns too early, before all of the input has been processed.',NULL,16,NULL,NULL,NULL,NULL,1,0,11,'2026-12-07T13:25:30.498+00:00',NULL,NULL,'{}','{"joint":true}',49);
INSERT INTO "nodes" VALUES(38,1,'HumanEval/3',37,'HumanEval/3|p1|f0|r0','program','model','sim-weak','```python
from typing import List



def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """

    for op in operations:
        balance += op
        if balance > 1:
            # return the result
            return True

    return True
```','from typing import List



def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """

    for op in operations:
        balance += op
        if balance > 1:
            # return the result
            return True

    return True
',165,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate([]) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,11,'2026-12-07T13:25:30.498+00:00','2026-12-07T13:25:30.595+00:00',0.094791,'{}','{}',69);
INSERT INTO "nodes" VALUES(39,1,'HumanEval/3',11,'HumanEval/3|p1|f1','feedback','model','sim-weak','Line 21 returns too early, before all of the input has been processed.',NULL,16,NULL,NULL,NULL,NULL,1,1,11,'2026-12-07T13:25:30.498+00:00',NULL,NULL,'{}','{"joint":true}',51);
INSERT INTO "nodes" VALUES(40,1,'HumanEval/3',39,'HumanEval/3|p1|f1|r0','program','model','sim-weak','```python
from typing import List



def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """

    for op in operations:
        balance += op
        if balance > 1:
            # return the result
            return True

    return True
```','from typing import List



def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """

    for op in operations:
        balance += op
        if balance > 1:
            # return the result
            return True

    return True
',165,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate([]) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,11,'2026-12-07T13:25:30.498+00:00','2026-12-07T13:25:30.595+00:00',0.095251,'{}','{}',70);
INSERT INTO "nodes" VALUES(41,1,'HumanEval/3',12,'HumanEval/3|p2|f0','feedback','model','sim-weak','The comparison on line 16 should not be strict: equal values must be accepted too.',NULL,18,NULL,NULL,NULL,NULL,1,0,12,'2026-12-07T13:25:30.511+00:00',NULL,NULL,'{}','{"joint":true}',53);
INSERT INTO "nodes" VALUES(42,1,'HumanEval/3',41,'HumanEval/3|p2|f0|r0','program','model','sim-weak','```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance <= 1:
            return True


    return False
```','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance <= 1:
            return True


    return False
',160,0,'assertion failed line 11','The test assertion failed (line 11 of the tests):
assert candidate([1, 2, -3, 1, 2, -3]) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,12,'2026-12-07T13:25:30.511+00:00','2026-12-07T13:25:30.601+00:00',0.088453,'{}','{}',71);
INSERT INTO "nodes" VALUES(43,1,'HumanEval/3',12,'HumanEval/3|p2|f1','feedback','model','sim-weak','The comparison on line 16 should not be strict: equal values must be accepted too.',NULL,18,NULL,NULL,NULL,NULL,1,1,12,'2026-12-07T13:25:30.511+00:00',NULL,NULL,'{}','{"joint":true}',55);
INSERT INTO "nodes" VALUES(44,1,'HumanEval/3',43,'HumanEval/3|p2|f1|r0','program','model','sim-weak','```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance >= 0:
            return True


    return False
```','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance >= 0:
            return True


    return False
',160,0,'assertion failed line 11','The test assertion failed (line 11 of the tests):
assert candidate([1, 2, -3, 1, 2, -3]) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,12,'2026-12-07T13:25:30.511+00:00','2026-12-07T13:25:30.601+00:00',0.0884,'{}','{}',72);
INSERT INTO "nodes" VALUES(45,2,'HumanEval/0',NULL,'HumanEval/0|p0','program','model','sim-weak','The following program solves the problem.

```python
from typing import List



def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    # return the result
    return False
```
','from typing import List



def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    # return the result
    return False
',186,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,13,'2026-12-07T13:25:30.836+00:00','2026-12-07T13:25:30.891+00:00',0.054544,'{}','{}',79);
INSERT INTO "nodes" VALUES(46,2,'HumanEval/0',NULL,'HumanEval/0|p1','program','model','sim-weak','Here is my implementation:

```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                # handle this case
                if distance < threshold:
                    return True

    return False
```
','from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                # handle this case
                if distance < threshold:
                    return True

    return False
',184,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,13,'2026-12-07T13:25:30.836+00:00','2026-12-07T13:25:30.891+00:00',0.027526,'{}','{}',80);
INSERT INTO "nodes" VALUES(47,2,'HumanEval/1',NULL,'HumanEval/1|p0','program','model','sim-weak','This program follows the specification:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',206,0,'NameError line 28','Running the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:
    return result','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,14,'2026-12-07T13:25:30.847+00:00','2026-12-07T13:25:32.141+00:00',0.009129,'{}','{}',228);
INSERT INTO "nodes" VALUES(48,2,'HumanEval/1',NULL,'HumanEval/1|p1','program','model','sim-weak','Here is my implementation:

```python

from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
',206,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,14,'2026-12-07T13:25:30.847+00:00','2026-12-07T13:25:30.906+00:00',0.057237,'{}','{}',82);
INSERT INTO "nodes" VALUES(49,2,'HumanEval/2',NULL,'HumanEval/2|p0','program','model','sim-weak','The following program solves the problem.

```python



def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',100,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,15,'2026-12-07T13:25:30.858+00:00','2026-12-07T13:25:30.906+00:00',0.046592,'{}','{}',83);
INSERT INTO "nodes" VALUES(50,2,'HumanEval/2',NULL,'HumanEval/2|p1','program','model','sim-weak','This program follows the specification:

```python



def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """

    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """

    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,15,'2026-12-07T13:25:30.858+00:00','2026-12-07T13:25:30.906+00:00',0.046575,'{}','{}',84);
INSERT INTO "nodes" VALUES(51,2,'HumanEval/1',47,'HumanEval/1|p0|f0','feedback','model','sim-strong','The code forgets a step near line 13: the statement `result = []` is missing, so the result is never updated correctly. That is why the test fails (Running the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:).',NULL,62,NULL,NULL,NULL,NULL,1,0,16,'2026-12-07T13:25:30.920+00:00',NULL,NULL,'{}','{}',85);
INSERT INTO "nodes" VALUES(52,2,'HumanEval/1',47,'HumanEval/1|p0|f1','feedback','model','sim-strong','Line 21 does not handle the case where the input is empty.',NULL,14,NULL,NULL,NULL,NULL,1,1,16,'2026-12-07T13:25:30.920+00:00',NULL,NULL,'{}','{}',86);
INSERT INTO "nodes" VALUES(53,2,'HumanEval/1',48,'HumanEval/1|p1|f0','feedback','model','sim-strong','On line 17 the comparison `c != ''(''` is inverted; it should read `c == ''(''`.',NULL,22,NULL,NULL,NULL,NULL,1,0,17,'2026-12-07T13:25:30.930+00:00',NULL,NULL,'{}','{}',87);
INSERT INTO "nodes" VALUES(54,2,'HumanEval/1',48,'HumanEval/1|p1|f1','feedback','model','sim-strong','Line 21 does not handle the case where the input is empty.',NULL,14,NULL,NULL,NULL,NULL,1,1,17,'2026-12-07T13:25:30.930+00:00',NULL,NULL,'{}','{}',88);
INSERT INTO "nodes" VALUES(55,2,'HumanEval/2',49,'HumanEval/2|p0|f0','feedback','model','sim-strong','Line 10 returns the wrong value: it returns `number // 1.0` where it should return `number % 1.0`.',NULL,30,NULL,NULL,NULL,NULL,1,0,18,'2026-12-07T13:25:30.940+00:00',NULL,NULL,'{}','{}',89);
INSERT INTO "nodes" VALUES(56,2,'HumanEval/2',49,'HumanEval/2|p0|f1','feedback','model','sim-strong','The result is computed for the wrong part of the input; the first element should be treated separately.',NULL,20,NULL,NULL,NULL,NULL,1,1,18,'2026-12-07T13:25:30.940+00:00',NULL,NULL,'{}','{}',90);
INSERT INTO "nodes" VALUES(57,2,'HumanEval/2',50,'HumanEval/2|p1|f0','feedback','model','sim-strong','The function does not handle negative numbers correctly.',NULL,9,NULL,NULL,NULL,NULL,1,0,19,'2026-12-07T13:25:30.943+00:00',NULL,NULL,'{}','{}',91);
INSERT INTO "nodes" VALUES(58,2,'HumanEval/2',50,'HumanEval/2|p1|f1','feedback','model','sim-strong','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,1,1,19,'2026-12-07T13:25:30.943+00:00',NULL,NULL,'{}','{}',92);
INSERT INTO "nodes" VALUES(59,2,'HumanEval/1',51,'HumanEval/1|p0|f0|r0','program','model','sim-weak','Here is the fixed program:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',210,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,20,'2026-12-07T13:25:30.950+00:00','2026-12-07T13:25:30.983+00:00',0.026698,'{}','{}',101);
INSERT INTO "nodes" VALUES(60,2,'HumanEval/1',52,'HumanEval/1|p0|f1|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',202,0,'NameError line 27','Running the tests, the program raised NameError: name ''result'' is not defined at line 27 of the program:
    return result','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,21,'2026-12-07T13:25:30.959+00:00','2026-12-07T13:25:31.071+00:00',0.071568,'{}','{}',115);
INSERT INTO "nodes" VALUES(61,2,'HumanEval/1',53,'HumanEval/1|p1|f0|r0','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
',207,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,22,'2026-12-07T13:25:30.967+00:00','2026-12-07T13:25:31.015+00:00',0.047577,'{}','{}',104);
INSERT INTO "nodes" VALUES(62,2,'HumanEval/1',54,'HumanEval/1|p1|f1|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
',210,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''(()()) ('', ''(())) () ((('']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,23,'2026-12-07T13:25:30.971+00:00','2026-12-07T13:25:31.012+00:00',0.039923,'{}','{}',102);
INSERT INTO "nodes" VALUES(63,2,'HumanEval/2',55,'HumanEval/2|p0|f0|r0','program','model','sim-weak','The corrected program:

```python
def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,24,'2026-12-07T13:25:30.973+00:00','2026-12-07T13:25:31.071+00:00',0.05737,'{}','{}',114);
INSERT INTO "nodes" VALUES(64,2,'HumanEval/2',56,'HumanEval/2|p0|f1|r0','program','model','sim-weak','Here is the fixed program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,25,'2026-12-07T13:25:30.975+00:00','2026-12-07T13:25:31.013+00:00',0.037515,'{}','{}',103);
INSERT INTO "nodes" VALUES(65,2,'HumanEval/2',57,'HumanEval/2|p1|f0|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',102,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,26,'2026-12-07T13:25:30.979+00:00','2026-12-07T13:25:31.071+00:00',0.051481,'{}','{}',113);
INSERT INTO "nodes" VALUES(66,2,'HumanEval/2',58,'HumanEval/2|p1|f1|r0','program','model','sim-weak','Here is the fixed program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,27,'2026-12-07T13:25:30.982+00:00','2026-12-07T13:25:31.071+00:00',0.048834,'{}','{}',116);
INSERT INTO "nodes" VALUES(67,2,'HumanEval/1',61,'HumanEval/1|p1|f0|r0|f0','feedback','model','sim-strong','The expression `current_depth -= 1` on line 18 combines its operands the wrong way; it should be `current_depth += 1`.',NULL,30,NULL,NULL,NULL,NULL,2,0,28,'2026-12-07T13:25:31.019+00:00',NULL,NULL,'{}','{}',105);
INSERT INTO "nodes" VALUES(68,2,'HumanEval/1',61,'HumanEval/1|p1|f0|r0|f1','feedback','model','sim-strong','Line 18 uses the wrong operator: `current_depth -= 1` should be `current_depth += 1`.',NULL,24,NULL,NULL,NULL,NULL,2,1,28,'2026-12-07T13:25:31.019+00:00',NULL,NULL,'{}','{}',106);
INSERT INTO "nodes" VALUES(69,2,'HumanEval/1',62,'HumanEval/1|p1|f1|r0|f0','feedback','model','sim-strong','The equality test on line 24 compares values of different types, so it is never true.',NULL,19,NULL,NULL,NULL,NULL,2,0,29,'2026-12-07T13:25:31.023+00:00',NULL,NULL,'{}','{}',107);
INSERT INTO "nodes" VALUES(70,2,'HumanEval/1',62,'HumanEval/1|p1|f1|r0|f1','feedback','model','sim-strong','On line 17 the comparison `c != ''(''` is inverted; it should read `c == ''(''`. That is why the test fails (The test assertion failed (line 10 of the tests):).',NULL,42,NULL,NULL,NULL,NULL,2,1,29,'2026-12-07T13:25:31.023+00:00',NULL,NULL,'{}','{}',108);
INSERT INTO "nodes" VALUES(71,2,'HumanEval/1',67,'HumanEval/1|p1|f0|r0|f0|r0','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
',207,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,30,'2026-12-07T13:25:31.033+00:00','2026-12-07T13:25:31.071+00:00',0.006275,'{}','{}',117);
INSERT INTO "nodes" VALUES(72,2,'HumanEval/1',68,'HumanEval/1|p1|f0|r0|f1|r0','program','model','sim-weak','The corrected program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
',205,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,31,'2026-12-07T13:25:31.044+00:00','2026-12-07T13:25:31.071+00:00',0.013377,'{}','{}',118);
INSERT INTO "nodes" VALUES(73,2,'HumanEval/1',69,'HumanEval/1|p1|f1|r0|f0|r0','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)



    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)



    return result
',185,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,32,'2026-12-07T13:25:31.055+00:00','2026-12-07T13:25:31.071+00:00',0.014013,'{}','{}',119);
INSERT INTO "nodes" VALUES(74,2,'HumanEval/1',70,'HumanEval/1|p1|f1|r0|f1|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
',210,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,33,'2026-12-07T13:25:31.070+00:00','2026-12-07T13:25:31.234+00:00',0.025789,'{}','{}',144);
INSERT INTO "nodes" VALUES(75,2,'HumanEval/2',63,'HumanEval/2|p0|f0|r0|f0','feedback','model','sim-strong','The function does not handle negative numbers correctly.',NULL,9,NULL,NULL,NULL,NULL,2,0,34,'2026-12-07T13:25:31.078+00:00',NULL,NULL,'{}','{}',120);
INSERT INTO "nodes" VALUES(76,2,'HumanEval/2',63,'HumanEval/2|p0|f0|r0|f1','feedback','model','sim-strong','The function does not handle negative numbers correctly.',NULL,9,NULL,NULL,NULL,NULL,2,1,34,'2026-12-07T13:25:31.078+00:00',NULL,NULL,'{}','{}',121);
INSERT INTO "nodes" VALUES(77,2,'HumanEval/2',64,'HumanEval/2|p0|f1|r0|f0','feedback','model','sim-strong','The function does not handle negative numbers correctly.',NULL,9,NULL,NULL,NULL,NULL,2,0,35,'2026-12-07T13:25:31.082+00:00',NULL,NULL,'{}','{}',122);
INSERT INTO "nodes" VALUES(78,2,'HumanEval/2',64,'HumanEval/2|p0|f1|r0|f1','feedback','model','sim-strong','The return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):).',NULL,48,NULL,NULL,NULL,NULL,2,1,35,'2026-12-07T13:25:31.082+00:00',NULL,NULL,'{}','{}',123);
INSERT INTO "nodes" VALUES(79,2,'HumanEval/1',59,'HumanEval/1|p0|f0|r0|f0','feedback','model','sim-strong','On line 21 the comparison `c != '')''` is inverted; it should read `c == '')''`. That is why the test fails (The test assertion failed (line 10 of the tests):).',NULL,42,NULL,NULL,NULL,NULL,2,0,36,'2026-12-07T13:25:31.097+00:00',NULL,NULL,'{}','{}',124);
INSERT INTO "nodes" VALUES(80,2,'HumanEval/1',59,'HumanEval/1|p0|f0|r0|f1','feedback','model','sim-strong','Line 29 returns too early, before all of the input has been processed.',NULL,16,NULL,NULL,NULL,NULL,2,1,36,'2026-12-07T13:25:31.097+00:00',NULL,NULL,'{}','{}',125);
INSERT INTO "nodes" VALUES(81,2,'HumanEval/1',60,'HumanEval/1|p0|f1|r0|f0','feedback','model','sim-strong','Line 27 returns too early, before all of the input has been processed.',NULL,16,NULL,NULL,NULL,NULL,2,0,37,'2026-12-07T13:25:31.106+00:00',NULL,NULL,'{}','{}',126);
INSERT INTO "nodes" VALUES(82,2,'HumanEval/1',60,'HumanEval/1|p0|f1|r0|f1','feedback','model','sim-strong','The code forgets a step near line 13: the statement `result = []` is missing, so the result is never updated correctly.',NULL,29,NULL,NULL,NULL,NULL,2,1,37,'2026-12-07T13:25:31.106+00:00',NULL,NULL,'{}','{}',127);
INSERT INTO "nodes" VALUES(83,2,'HumanEval/2',65,'HumanEval/2|p1|f0|r0|f0','feedback','model','sim-strong','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,2,0,38,'2026-12-07T13:25:31.113+00:00',NULL,NULL,'{}','{}',128);
INSERT INTO "nodes" VALUES(84,2,'HumanEval/2',65,'HumanEval/2|p1|f0|r0|f1','feedback','model','sim-strong','The return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):).',NULL,48,NULL,NULL,NULL,NULL,2,1,38,'2026-12-07T13:25:31.113+00:00',NULL,NULL,'{}','{}',129);
INSERT INTO "nodes" VALUES(85,2,'HumanEval/2',66,'HumanEval/2|p1|f1|r0|f0','feedback','model','sim-strong','The return value on line 10 is wrong; `number // 1.0` should be `number % 1.0`. That is why the test fails (The test assertion failed (line 10 of the tests):).',NULL,48,NULL,NULL,NULL,NULL,2,0,39,'2026-12-07T13:25:31.117+00:00',NULL,NULL,'{}','{}',130);
INSERT INTO "nodes" VALUES(86,2,'HumanEval/2',66,'HumanEval/2|p1|f1|r0|f1','feedback','model','sim-strong','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,2,1,39,'2026-12-07T13:25:31.118+00:00',NULL,NULL,'{}','{}',131);
INSERT INTO "nodes" VALUES(87,2,'HumanEval/2',75,'HumanEval/2|p0|f0|r0|f0|r0','program','model','sim-weak','The corrected program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,40,'2026-12-07T13:25:31.124+00:00','2026-12-07T13:25:31.235+00:00',0.035998,'{}','{}',146);
INSERT INTO "nodes" VALUES(88,2,'HumanEval/2',76,'HumanEval/2|p0|f0|r0|f1|r0','program','model','sim-weak','The corrected program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,41,'2026-12-07T13:25:31.135+00:00','2026-12-07T13:25:31.235+00:00',0.025488,'{}','{}',145);
INSERT INTO "nodes" VALUES(89,2,'HumanEval/2',77,'HumanEval/2|p0|f1|r0|f0|r0','program','model','sim-weak','Here is the fixed program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,42,'2026-12-07T13:25:31.148+00:00','2026-12-07T13:25:31.235+00:00',0.027738,'{}','{}',147);
INSERT INTO "nodes" VALUES(90,2,'HumanEval/2',78,'HumanEval/2|p0|f1|r0|f1|r0','program','model','sim-weak','Here is the fixed program:

```python
def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,43,'2026-12-07T13:25:31.164+00:00','2026-12-07T13:25:31.235+00:00',0.031972,'{}','{}',148);
INSERT INTO "nodes" VALUES(91,2,'HumanEval/1',79,'HumanEval/1|p0|f0|r0|f0|r0','program','model','sim-weak','Here is the fixed program:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',204,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''((('', ''((('', ''('', ''((((('']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,44,'2026-12-07T13:25:31.178+00:00','2026-12-07T13:25:31.235+00:00',0.033455,'{}','{}',149);
INSERT INTO "nodes" VALUES(92,2,'HumanEval/1',80,'HumanEval/1|p0|f0|r0|f1|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',213,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''(()()) ('', ''(())) () ((('']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,45,'2026-12-07T13:25:31.198+00:00','2026-12-07T13:25:31.236+00:00',0.01329,'{}','{}',150);
INSERT INTO "nodes" VALUES(93,2,'HumanEval/1',81,'HumanEval/1|p0|f1|r0|f0|r0','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 1:
                result.append(''''.join(current_string))

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 1:
                result.append(''''.join(current_string))

    return result
',202,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''(()'', ''(()()'', ''(()())((())'', ''(()())((()))()((())'', ''(()())((()))()((())()'', ''(()())((()))()((())()()'']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,46,'2026-12-07T13:25:31.214+00:00','2026-12-07T13:25:31.241+00:00',0.02564,'{}','{}',151);
INSERT INTO "nodes" VALUES(94,2,'HumanEval/1',82,'HumanEval/1|p0|f1|r0|f1|r0','program','model','sim-weak','The corrected program:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1

            current_string.append(c)
        elif c != '')'':
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1

            current_string.append(c)
        elif c != '')'':
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',201,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,47,'2026-12-07T13:25:31.219+00:00','2026-12-07T13:25:31.266+00:00',0.045132,'{}','{}',152);
INSERT INTO "nodes" VALUES(95,2,'HumanEval/2',83,'HumanEval/2|p1|f0|r0|f0|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',102,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,48,'2026-12-07T13:25:31.223+00:00','2026-12-07T13:25:31.267+00:00',0.042042,'{}','{}',153);
INSERT INTO "nodes" VALUES(96,2,'HumanEval/2',84,'HumanEval/2|p1|f0|r0|f1|r0','program','model','sim-weak','Here is the fixed program:

```python
def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,49,'2026-12-07T13:25:31.226+00:00','2026-12-07T13:25:31.267+00:00',0.03945,'{}','{}',154);
INSERT INTO "nodes" VALUES(97,2,'HumanEval/2',85,'HumanEval/2|p1|f1|r0|f0|r0','program','model','sim-weak','The corrected program:

```python
def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,50,'2026-12-07T13:25:31.229+00:00','2026-12-07T13:25:31.267+00:00',0.036429,'{}','{}',156);
INSERT INTO "nodes" VALUES(98,2,'HumanEval/2',86,'HumanEval/2|p1|f1|r0|f1|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',102,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,51,'2026-12-07T13:25:31.233+00:00','2026-12-07T13:25:31.267+00:00',0.032554,'{}','{}',155);
INSERT INTO "nodes" VALUES(99,3,'HumanEval/0',NULL,'HumanEval/0|p0','program','model','sim-weak','The following program solves the problem.

```python
# Python 3
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                # check the condition
                if distance < threshold:
                    return True

    return False
```
','# Python 3
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                # check the condition
                if distance < threshold:
                    return True

    return False
',191,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,52,'2026-12-07T13:25:31.438+00:00','2026-12-07T13:25:31.498+00:00',0.058428,'{}','{}',163);
INSERT INTO "nodes" VALUES(100,3,'HumanEval/0',NULL,'HumanEval/0|p1','program','model','sim-weak','This program follows the specification:

```python
# Python 3
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
```
','# Python 3
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
',184,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,52,'2026-12-07T13:25:31.438+00:00','2026-12-07T13:25:31.498+00:00',0.058245,'{}','{}',164);
INSERT INTO "nodes" VALUES(101,3,'HumanEval/1',NULL,'HumanEval/1|p0','program','model','sim-weak','Here is my implementation:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')''
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')''
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',206,0,'SyntaxError line 20','The program does not compile: SyntaxError: expected '':'' (line 20)
            elif c == '')''','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,53,'2026-12-07T13:25:31.443+00:00','2026-12-07T13:25:32.297+00:00',0.006926,'{}','{}',250);
INSERT INTO "nodes" VALUES(102,3,'HumanEval/1',NULL,'HumanEval/1|p1','program','model','sim-weak','This program follows the specification:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))

                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))

                current_string.clear()

    return result
',207,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,53,'2026-12-07T13:25:31.443+00:00','2026-12-07T13:25:31.499+00:00',0.05472,'{}','{}',166);
INSERT INTO "nodes" VALUES(103,3,'HumanEval/2',NULL,'HumanEval/2|p0','program','model','sim-weak','The following program solves the problem.

```python
# Approach: follow the specification directly.



def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','# Approach: follow the specification directly.



def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',108,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,0,54,'2026-12-07T13:25:31.446+00:00','2026-12-07T13:25:31.509+00:00',0.053578,'{}','{}',170);
INSERT INTO "nodes" VALUES(104,3,'HumanEval/2',NULL,'HumanEval/2|p1','program','model','sim-weak','Here is my implementation:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    # return the result
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    # return the result
    return number // 1.0
',104,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',0,1,54,'2026-12-07T13:25:31.446+00:00','2026-12-07T13:25:31.509+00:00',0.053537,'{}','{}',171);
INSERT INTO "nodes" VALUES(105,3,'HumanEval/1',101,'HumanEval/1|p0|t0','feedback','tests',NULL,'The program does not compile: SyntaxError: expected '':'' (line 20)
            elif c == '')''',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T13:25:31.499+00:00',NULL,NULL,'{}','{}',167);
INSERT INTO "nodes" VALUES(106,3,'HumanEval/1',105,'HumanEval/1|p0|t0|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',210,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,55,'2026-12-07T13:25:31.506+00:00','2026-12-07T13:25:31.554+00:00',0.017948,'{}','{}',178);
INSERT INTO "nodes" VALUES(107,3,'HumanEval/1',105,'HumanEval/1|p0|t0|r1','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth != 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth != 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',207,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''('', ''('', '')('', '')) (('', ''('', ''))) ('', '') ('', ''('', ''())('', '')('']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,55,'2026-12-07T13:25:31.506+00:00','2026-12-07T13:25:31.554+00:00',0.023079,'{}','{}',179);
INSERT INTO "nodes" VALUES(108,3,'HumanEval/2',103,'HumanEval/2|p0|t0','feedback','tests',NULL,'The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T13:25:31.509+00:00',NULL,NULL,'{}','{}',172);
INSERT INTO "nodes" VALUES(109,3,'HumanEval/2',108,'HumanEval/2|p0|t0|r0','program','model','sim-weak','Here is the fixed program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,56,'2026-12-07T13:25:31.525+00:00','2026-12-07T13:25:31.555+00:00',0.029507,'{}','{}',180);
INSERT INTO "nodes" VALUES(110,3,'HumanEval/2',108,'HumanEval/2|p0|t0|r1','program','model','sim-weak','The corrected program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,56,'2026-12-07T13:25:31.525+00:00','2026-12-07T13:25:31.555+00:00',0.02548,'{}','{}',181);
INSERT INTO "nodes" VALUES(111,3,'HumanEval/2',104,'HumanEval/2|p1|t0','feedback','tests',NULL,'The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T13:25:31.531+00:00',NULL,NULL,'{}','{}',175);
INSERT INTO "nodes" VALUES(112,3,'HumanEval/2',111,'HumanEval/2|p1|t0|r0','program','model','sim-weak','The corrected program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,57,'2026-12-07T13:25:31.535+00:00','2026-12-07T13:25:31.578+00:00',0.03376,'{}','{}',182);
INSERT INTO "nodes" VALUES(113,3,'HumanEval/2',111,'HumanEval/2|p1|t0|r1','program','model','sim-weak','The corrected program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,57,'2026-12-07T13:25:31.535+00:00','2026-12-07T13:25:31.578+00:00',0.023816,'{}','{}',183);
INSERT INTO "nodes" VALUES(114,1,'HumanEval/0',3,'HumanEval/0|p2|h0','feedback','human',NULL,'You return the wrong value when the list is empty.',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T13:25:31.617+00:00',NULL,NULL,'{}','{}',184);
INSERT INTO "nodes" VALUES(115,1,'HumanEval/0',114,'HumanEval/0|p2|h0|r0','program','model','sim-weak','Here is the fixed program:

```python
# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
```
','# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
',193,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,58,'2026-12-07T13:25:31.631+00:00','2026-12-07T13:25:31.796+00:00',0.027154,'{}','{}',187);
INSERT INTO "nodes" VALUES(116,1,'HumanEval/0',114,'HumanEval/0|p2|h0|r1','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance > threshold:
                    return True

    return False
```
','from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance > threshold:
                    return True

    return False
',179,0,'assertion failed line 11','The test assertion failed (line 11 of the tests):
assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,58,'2026-12-07T13:25:31.631+00:00','2026-12-07T13:25:31.796+00:00',0.029537,'{}','{}',188);
INSERT INTO "nodes" VALUES(117,1,'HumanEval/0',13,'HumanEval/0|p2|f0|r1','program','model','sim-strong','Here is the fixed program:

```python
# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
```
','# Approach: follow the specification directly.
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            # handle this case
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
',193,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,59,'2026-12-07T13:25:31.814+00:00','2026-12-07T13:25:31.831+00:00',0.015453,'{}','{}',190);
INSERT INTO "nodes" VALUES(118,1,'HumanEval/3',12,'HumanEval/3|p2|f2','feedback','model','sim-weak','Line 17 returns too early, before all of the input has been processed.',NULL,16,NULL,NULL,NULL,NULL,1,2,60,'2026-12-07T13:25:31.844+00:00',NULL,NULL,'{}','{"joint":true}',191);
INSERT INTO "nodes" VALUES(119,1,'HumanEval/3',118,'HumanEval/3|p2|f2|r0','program','model','sim-weak','```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance <= 0:
            return False


    return False
```','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 1

    for op in operations:
        if balance <= 0:
            return False


    return False
',160,0,'assertion failed line 12','The test assertion failed (line 12 of the tests):
assert candidate([1, 2, -4, 5, 6]) == True
its left side evaluated to:
False
and its right side to:
True','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,60,'2026-12-07T13:25:31.844+00:00','2026-12-07T13:25:31.873+00:00',0.027555,'{}','{}',195);
INSERT INTO "nodes" VALUES(120,1,'HumanEval/3',12,'HumanEval/3|p2|f3','feedback','model','sim-weak','Line 13 gets a boundary wrong. `1` includes or skips one element too many; use `0` instead.',NULL,25,NULL,NULL,NULL,NULL,1,3,60,'2026-12-07T13:25:31.844+00:00',NULL,NULL,'{}','{"joint":true}',193);
INSERT INTO "nodes" VALUES(121,1,'HumanEval/3',120,'HumanEval/3|p2|f3|r0','program','model','sim-weak','```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 0

    for op in operations:
        if balance <= 0:
            return True


    return True
```','from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
    balance = 0

    for op in operations:
        if balance <= 0:
            return True


    return True
',160,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate([]) == False
its left side evaluated to:
True
and its right side to:
False','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,60,'2026-12-07T13:25:31.844+00:00','2026-12-07T13:25:31.873+00:00',0.022099,'{}','{}',196);
INSERT INTO "nodes" VALUES(122,1,'HumanEval/1',18,'HumanEval/1|p0|f0|r0|f0','feedback','model','sim-weak','The code forgets a step near line 12: the statement `result = []` is missing, so the result is never updated correctly. That is why the test fails (Running the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:).',NULL,63,NULL,NULL,NULL,NULL,2,0,61,'2026-12-07T13:25:31.957+00:00',NULL,NULL,'{}','{"joint":true}',197);
INSERT INTO "nodes" VALUES(123,1,'HumanEval/1',122,'HumanEval/1|p0|f0|r0|f0|r0','program','model','sim-weak','```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',205,0,'NameError line 19','Running the tests, the program raised NameError: name ''current_string'' is not defined at line 19 of the program:
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,61,'2026-12-07T13:25:31.957+00:00','2026-12-07T13:25:31.973+00:00',0.014219,'{}','{}',201);
INSERT INTO "nodes" VALUES(124,1,'HumanEval/1',18,'HumanEval/1|p0|f0|r0|f1','feedback','model','sim-weak','Line 24 does not handle the case where the input is empty.',NULL,14,NULL,NULL,NULL,NULL,2,1,61,'2026-12-07T13:25:31.957+00:00',NULL,NULL,'{}','{"joint":true}',199);
INSERT INTO "nodes" VALUES(125,1,'HumanEval/1',124,'HumanEval/1|p0|f0|r0|f1|r0','program','model','sim-weak','```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1

            if current_depth == 0:
                result.append(''''.join(current_string))

    return result
```','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_depth = 0

    for c in paren_string:
        if c == ''('':

            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1

            if current_depth == 0:
                result.append(''''.join(current_string))

    return result
',196,0,'NameError line 18','Running the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,61,'2026-12-07T13:25:31.957+00:00','2026-12-07T13:25:31.973+00:00',0.010728,'{}','{}',202);
INSERT INTO "nodes" VALUES(126,1,'HumanEval/0',3,'HumanEval/0|p2|f2','feedback','model','sim-strong','The return value on line 21 is wrong; `True` should be `False`.',NULL,18,NULL,NULL,NULL,NULL,1,2,62,'2026-12-07T13:25:31.980+00:00',NULL,NULL,'{}','{}',203);
INSERT INTO "nodes" VALUES(127,1,'HumanEval/0',116,'HumanEval/0|p2|h0|r1|h0','feedback','human',NULL,'Off by one in the loop bound.',NULL,0,NULL,NULL,NULL,NULL,2,0,NULL,'2026-12-07T13:25:31.999+00:00',NULL,NULL,'{}','{}',205);
INSERT INTO "nodes" VALUES(128,1,'HumanEval/0',127,'HumanEval/0|p2|h0|r1|h0|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance <= threshold:
                    return True

    return False
```
','from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance <= threshold:
                    return True

    return False
',182,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,63,'2026-12-07T13:25:32.004+00:00','2026-12-07T13:25:32.014+00:00',0.009603,'{}','{}',207);
INSERT INTO "nodes" VALUES(129,2,'HumanEval/1',47,'HumanEval/1|p0|h0','feedback','human',NULL,'You return the wrong value when the list is empty.',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T13:25:32.017+00:00',NULL,NULL,'{}','{}',208);
INSERT INTO "nodes" VALUES(130,2,'HumanEval/1',129,'HumanEval/1|p0|h0|r0','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',207,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,64,'2026-12-07T13:25:32.033+00:00','2026-12-07T13:25:32.054+00:00',0.01525,'{}','{}',211);
INSERT INTO "nodes" VALUES(131,2,'HumanEval/1',129,'HumanEval/1|p0|h0|r1','program','model','sim-weak','Here is the fixed program:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 2
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 2
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',206,0,'NameError line 28','Running the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:
    return result','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,64,'2026-12-07T13:25:32.033+00:00','2026-12-07T13:25:32.054+00:00',0.013124,'{}','{}',212);
INSERT INTO "nodes" VALUES(132,2,'HumanEval/1',51,'HumanEval/1|p0|f0|r1','program','model','sim-strong','Here is the fixed program:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',210,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,65,'2026-12-07T13:25:32.059+00:00','2026-12-07T13:25:32.066+00:00',0.006432,'{}','{}',214);
INSERT INTO "nodes" VALUES(133,2,'HumanEval/2',50,'HumanEval/2|p1|f2','feedback','model','sim-strong','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,1,2,66,'2026-12-07T13:25:32.070+00:00',NULL,NULL,'{}','{}',215);
INSERT INTO "nodes" VALUES(134,2,'HumanEval/2',50,'HumanEval/2|p1|f3','feedback','model','sim-strong','Line 11 returns the wrong value: it returns `number // 1.0` where it should return `number % 1.0`.',NULL,30,NULL,NULL,NULL,NULL,1,3,66,'2026-12-07T13:25:32.070+00:00',NULL,NULL,'{}','{}',216);
INSERT INTO "nodes" VALUES(135,2,'HumanEval/2',133,'HumanEval/2|p1|f2|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',102,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,67,'2026-12-07T13:25:32.077+00:00','2026-12-07T13:25:32.091+00:00',0.014257,'{}','{}',219);
INSERT INTO "nodes" VALUES(136,2,'HumanEval/2',134,'HumanEval/2|p1|f3|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """

    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """

    return number // 1.0
',102,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,68,'2026-12-07T13:25:32.086+00:00','2026-12-07T13:25:32.093+00:00',0.006079,'{}','{}',220);
INSERT INTO "nodes" VALUES(137,2,'HumanEval/1',59,'HumanEval/1|p0|f0|r0|f2','feedback','model','sim-strong','On line 21 the comparison `c != '')''` is inverted; it should read `c == '')''`. That is why the test fails (The test assertion failed (line 10 of the tests):).',NULL,42,NULL,NULL,NULL,NULL,2,2,69,'2026-12-07T13:25:32.101+00:00',NULL,NULL,'{}','{}',221);
INSERT INTO "nodes" VALUES(138,2,'HumanEval/1',59,'HumanEval/1|p0|f0|r0|f3','feedback','model','sim-strong','The condition on line 21 is the wrong way round: `c != '')''` should be `c == '')''`, so the branch is taken in exactly the wrong cases. That is why the test fails (The test assertion failed (line 10 of the tests):).',NULL,55,NULL,NULL,NULL,NULL,2,3,69,'2026-12-07T13:25:32.101+00:00',NULL,NULL,'{}','{}',222);
INSERT INTO "nodes" VALUES(139,2,'HumanEval/1',137,'HumanEval/1|p0|f0|r0|f2|r0','program','model','sim-weak','Here is the fixed program:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth += 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',210,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,70,'2026-12-07T13:25:32.105+00:00','2026-12-07T13:25:32.120+00:00',0.014939,'{}','{}',225);
INSERT INTO "nodes" VALUES(140,2,'HumanEval/1',138,'HumanEval/1|p0|f0|r0|f3|r0','program','model','sim-weak','The corrected program:

```python
# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth != 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','# Solution
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth != 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',208,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''(()'', ''()'', '')((()'', '')'', '')()((()'', '')'', ''()'', ''()'']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,71,'2026-12-07T13:25:32.108+00:00','2026-12-07T13:25:32.121+00:00',0.012438,'{}','{}',226);
INSERT INTO "nodes" VALUES(141,2,'HumanEval/1',47,'HumanEval/1|p0|f2','feedback','model','sim-strong','A statement is missing around line 13: the program needs `result = []` there.',NULL,19,NULL,NULL,NULL,NULL,1,2,72,'2026-12-07T13:25:32.129+00:00',NULL,NULL,'{}','{}',227);
INSERT INTO "nodes" VALUES(142,2,'HumanEval/1',48,'HumanEval/1|p1|h0','feedback','human',NULL,'Off by one in the loop bound.',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T13:25:32.144+00:00',NULL,NULL,'{}','{}',229);
INSERT INTO "nodes" VALUES(143,2,'HumanEval/1',142,'HumanEval/1|p1|h0|r0','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()


    return result
',203,0,'NameError line 28','Running the tests, the program raised NameError: name ''result'' is not defined at line 28 of the program:
    return result','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,73,'2026-12-07T13:25:32.150+00:00','2026-12-07T13:25:32.162+00:00',0.011511,'{}','{}',231);
INSERT INTO "nodes" VALUES(144,3,'HumanEval/1',101,'HumanEval/1|p0|h0','feedback','human',NULL,'You return the wrong value when the list is empty.',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T13:25:32.164+00:00',NULL,NULL,'{}','{}',232);
INSERT INTO "nodes" VALUES(145,3,'HumanEval/1',144,'HumanEval/1|p0|h0|r0','program','model','sim-weak','Here is a version with the bug fixed:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 2
            current_string.append(c)

            if current_depth == 0:
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 2
            current_string.append(c)

            if current_depth == 0:
                current_string.clear()

    return result
',201,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,74,'2026-12-07T13:25:32.175+00:00','2026-12-07T13:25:32.207+00:00',0.031861,'{}','{}',235);
INSERT INTO "nodes" VALUES(146,3,'HumanEval/1',144,'HumanEval/1|p0|h0|r1','program','model','sim-weak','Here is a version with the bug fixed:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',210,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,74,'2026-12-07T13:25:32.175+00:00','2026-12-07T13:25:32.207+00:00',0.020496,'{}','{}',236);
INSERT INTO "nodes" VALUES(147,3,'HumanEval/1',105,'HumanEval/1|p0|t0|r2','program','model','sim-strong','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c == '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',207,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,2,75,'2026-12-07T13:25:32.210+00:00','2026-12-07T13:25:32.216+00:00',0.005438,'{}','{}',238);
INSERT INTO "nodes" VALUES(148,3,'HumanEval/2',104,'HumanEval/2|p1|t1','feedback','tests',NULL,'The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5',NULL,0,NULL,NULL,NULL,NULL,1,1,NULL,'2026-12-07T13:25:32.217+00:00',NULL,NULL,'{}','{}',239);
INSERT INTO "nodes" VALUES(149,3,'HumanEval/2',148,'HumanEval/2|p1|t1|r0','program','model','sim-weak','The corrected program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',97,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,0,76,'2026-12-07T13:25:32.220+00:00','2026-12-07T13:25:32.244+00:00',0.018765,'{}','{}',242);
INSERT INTO "nodes" VALUES(150,3,'HumanEval/2',148,'HumanEval/2|p1|t1|r1','program','model','sim-weak','Here is the fixed program:

```python


def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
```
','def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
    return number // 1.0
',99,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(3.5) == 0.5
its left side evaluated to:
3.0
and its right side to:
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1,1,76,'2026-12-07T13:25:32.220+00:00','2026-12-07T13:25:32.244+00:00',0.021598,'{}','{}',243);
INSERT INTO "nodes" VALUES(151,3,'HumanEval/1',106,'HumanEval/1|p0|t0|r0|t0','feedback','tests',NULL,'The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']',NULL,0,NULL,NULL,NULL,NULL,2,0,NULL,'2026-12-07T13:25:32.246+00:00',NULL,NULL,'{}','{}',244);
INSERT INTO "nodes" VALUES(152,3,'HumanEval/1',151,'HumanEval/1|p0|t0|r0|t0|r0','program','model','sim-weak','The corrected program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c != ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',205,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''(()()) ('', ''(())) () ((('']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,77,'2026-12-07T13:25:32.264+00:00','2026-12-07T13:25:32.286+00:00',0.015375,'{}','{}',247);
INSERT INTO "nodes" VALUES(153,3,'HumanEval/1',151,'HumanEval/1|p0|t0|r0|t0|r1','program','model','sim-weak','The corrected program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth -= 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth == 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',205,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[]
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,1,77,'2026-12-07T13:25:32.264+00:00','2026-12-07T13:25:32.286+00:00',0.0182,'{}','{}',248);
INSERT INTO "nodes" VALUES(154,3,'HumanEval/1',101,'HumanEval/1|p0|f0','feedback','model','sim-strong','Line 20 has a syntax error: `elif c == '')''` is not valid Python; it should be `elif c == '')'':`. That is why the test fails (The program does not compile: SyntaxError: expected '':'' (line 20)).',NULL,52,NULL,NULL,NULL,NULL,1,0,78,'2026-12-07T13:25:32.289+00:00',NULL,NULL,'{}','{}',249);
INSERT INTO "nodes" VALUES(155,3,'HumanEval/1',106,'HumanEval/1|p0|t0|r0|h0','feedback','human',NULL,'Off by one in the loop bound.',NULL,0,NULL,NULL,NULL,NULL,2,0,NULL,'2026-12-07T13:25:32.298+00:00',NULL,NULL,'{}','{}',251);
INSERT INTO "nodes" VALUES(156,3,'HumanEval/1',155,'HumanEval/1|p0|t0|r0|h0|r0','program','model','sim-weak','Here is the fixed program:

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth != 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
```
','from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
    result = []
    current_string = []
    current_depth = 0

    for c in paren_string:
        if c == ''('':
            current_depth += 1
            current_string.append(c)
        elif c != '')'':
            current_depth -= 1
            current_string.append(c)

            if current_depth != 0:
                result.append(''''.join(current_string))
                current_string.clear()

    return result
',207,0,'assertion failed line 10','The test assertion failed (line 10 of the tests):
assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]
its left side evaluated to:
[''((( '', ''((( '', ''( '']
and its right side to:
[''(()())'', ''((()))'', ''()'', ''((())()())'']','namespaces(pid,ipc,mount,net,uts)+uid+rlimits',2,0,79,'2026-12-07T13:25:32.307+00:00','2026-12-07T13:25:32.325+00:00',0.017636,'{}','{}',253);
CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_utc TEXT NOT NULL,
            updated_utc TEXT NOT NULL,
            dataset TEXT NOT NULL,
            config_json TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'finished', 'interrupted', 'failed', 'imported')),
            message TEXT,
            isolation TEXT NOT NULL DEFAULT '',
            simulated INTEGER NOT NULL DEFAULT 0
        );
INSERT INTO "runs" VALUES(1,'he-joint','2026-12-07T13:25:29.975+00:00','2026-12-07T13:25:30.601+00:00','humaneval','{"base_url": null, "concurrency": 4, "dataset": "humaneval", "depth": 1, "difficulty": null, "feedback_model": null, "feedback_temperature": null, "limit": 4, "max_tokens": 1024, "mode": "joint", "model": "sim-weak", "nfr": 2, "np": 3, "seed": 0, "sim_latency": 0.0, "split": null, "task_ids": [], "temperature": 0.8}','finished',NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1);
INSERT INTO "runs" VALUES(2,'he-separate-d2','2026-12-07T13:25:30.834+00:00','2026-12-07T13:25:31.268+00:00','humaneval','{"base_url": null, "concurrency": 4, "dataset": "humaneval", "depth": 2, "difficulty": null, "feedback_model": "sim-strong", "feedback_temperature": null, "limit": 3, "max_tokens": 1024, "mode": "separate", "model": "sim-weak", "nfr": 2, "np": 2, "seed": 1, "sim_latency": 0.0, "split": null, "task_ids": [], "temperature": 0.8}','finished',NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1);
INSERT INTO "runs" VALUES(3,'he-tests','2026-12-07T13:25:31.426+00:00','2026-12-07T13:25:31.578+00:00','humaneval','{"base_url": null, "concurrency": 4, "dataset": "humaneval", "depth": 1, "difficulty": null, "feedback_model": null, "feedback_temperature": null, "limit": 3, "max_tokens": 1024, "mode": "tests-only", "model": "sim-weak", "nfr": 2, "np": 2, "seed": 2, "sim_latency": 0.0, "split": null, "task_ids": [], "temperature": 0.8}','finished',NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits',1);
CREATE TABLE tasks (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            source TEXT NOT NULL,
            difficulty TEXT,
            spec TEXT NOT NULL DEFAULT '',
            tests_json TEXT NOT NULL DEFAULT '{}',
            entry_point TEXT,
            starter_code TEXT NOT NULL DEFAULT '',
            references_json TEXT NOT NULL DEFAULT '[]',
            split TEXT,
            meta_json TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, task_id)
        );
INSERT INTO "tasks" VALUES(1,'HumanEval/0',0,'humaneval',NULL,'from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
','{"style":"assert","entry_point":"has_close_elements","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False\n    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n\n"}','has_close_elements','','["from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(1,'HumanEval/1',1,'humaneval',NULL,'from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
','{"style":"assert","entry_point":"separate_paren_groups","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\n    assert candidate(''() (()) ((())) (((())))'') == [\n        ''()'', ''(())'', ''((()))'', ''(((())))''\n    ]\n    assert candidate(''(()(())((())))'') == [\n        ''(()(())((())))''\n    ]\n    assert candidate(''( ) (( )) (( )( ))'') == [''()'', ''(())'', ''(()())'']\n"}','separate_paren_groups','','["from typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(1,'HumanEval/2',2,'humaneval',NULL,'

def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
','{"style":"assert","entry_point":"truncate_number","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(3.5) == 0.5\n    assert abs(candidate(1.33) - 0.33) < 1e-6\n    assert abs(candidate(123.456) - 0.456) < 1e-6\n"}','truncate_number','','["\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number % 1.0\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(1,'HumanEval/3',3,'humaneval',NULL,'from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You''re given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and
    at that point function should return True. Otherwise it should return False.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
','{"style":"assert","entry_point":"below_zero","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate([]) == False\n    assert candidate([1, 2, -3, 1, 2, -3]) == False\n    assert candidate([1, 2, -4, 5, 6]) == True\n    assert candidate([1, -1, 2, -2, 5, -5, 4, -4]) == False\n    assert candidate([1, -1, 2, -2, 5, -5, 4, -5]) == True\n    assert candidate([1, -2, 2, -2, 5, -5, 4, -4]) == True\n"}','below_zero','','["from typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    \"\"\" You''re given a list of deposit and withdrawal operations on a bank account that starts with\n    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n    at that point function should return True. Otherwise it should return False.\n    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n    balance = 0\n\n    for op in operations:\n        balance += op\n        if balance < 0:\n            return True\n\n    return False\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(2,'HumanEval/0',0,'humaneval',NULL,'from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
','{"style":"assert","entry_point":"has_close_elements","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False\n    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n\n"}','has_close_elements','','["from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(2,'HumanEval/1',1,'humaneval',NULL,'from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
','{"style":"assert","entry_point":"separate_paren_groups","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\n    assert candidate(''() (()) ((())) (((())))'') == [\n        ''()'', ''(())'', ''((()))'', ''(((())))''\n    ]\n    assert candidate(''(()(())((())))'') == [\n        ''(()(())((())))''\n    ]\n    assert candidate(''( ) (( )) (( )( ))'') == [''()'', ''(())'', ''(()())'']\n"}','separate_paren_groups','','["from typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(2,'HumanEval/2',2,'humaneval',NULL,'

def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
','{"style":"assert","entry_point":"truncate_number","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(3.5) == 0.5\n    assert abs(candidate(1.33) - 0.33) < 1e-6\n    assert abs(candidate(123.456) - 0.456) < 1e-6\n"}','truncate_number','','["\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number % 1.0\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(3,'HumanEval/0',0,'humaneval',NULL,'from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
','{"style":"assert","entry_point":"has_close_elements","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False\n    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n\n"}','has_close_elements','','["from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(3,'HumanEval/1',1,'humaneval',NULL,'from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
','{"style":"assert","entry_point":"separate_paren_groups","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\n    assert candidate(''() (()) ((())) (((())))'') == [\n        ''()'', ''(())'', ''((()))'', ''(((())))''\n    ]\n    assert candidate(''(()(())((())))'') == [\n        ''(()(())((())))''\n    ]\n    assert candidate(''( ) (( )) (( )( ))'') == [''()'', ''(())'', ''(()())'']\n"}','separate_paren_groups','','["from typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(3,'HumanEval/2',2,'humaneval',NULL,'

def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
','{"style":"assert","entry_point":"truncate_number","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(3.5) == 0.5\n    assert abs(candidate(1.33) - 0.33) < 1e-6\n    assert abs(candidate(123.456) - 0.456) < 1e-6\n"}','truncate_number','','["\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number % 1.0\n"]',NULL,'{}');
CREATE TABLE test_results (
            node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
            test_index INTEGER NOT NULL,
            status TEXT NOT NULL,
            input TEXT,
            expected TEXT,
            got TEXT,
            error_type TEXT,
            message TEXT,
            line INTEGER,
            duration REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (node_id, test_index)
        );
INSERT INTO "test_results" VALUES(1,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.047945);
INSERT INTO "test_results" VALUES(2,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.047304);
INSERT INTO "test_results" VALUES(4,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',18,0.051953);
INSERT INTO "test_results" VALUES(5,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.066905);
INSERT INTO "test_results" VALUES(6,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.051064);
INSERT INTO "test_results" VALUES(7,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.06623);
INSERT INTO "test_results" VALUES(8,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.069974);
INSERT INTO "test_results" VALUES(9,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.089287);
INSERT INTO "test_results" VALUES(10,0,'wrong_answer','assert candidate([1, 2, -4, 5, 6]) == True','True','False','AssertionError',NULL,12,0.088642);
INSERT INTO "test_results" VALUES(11,0,'runtime_error',NULL,NULL,NULL,'UnboundLocalError','cannot access local variable ''balance'' where it is not associated with a value',16,0.082142);
INSERT INTO "test_results" VALUES(12,0,'wrong_answer','assert candidate([1, 2, -4, 5, 6]) == True','True','False','AssertionError',NULL,12,0.082011);
INSERT INTO "test_results" VALUES(14,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.025161);
INSERT INTO "test_results" VALUES(16,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.06114);
INSERT INTO "test_results" VALUES(18,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',18,0.067457);
INSERT INTO "test_results" VALUES(20,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',18,0.06738);
INSERT INTO "test_results" VALUES(22,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.064657);
INSERT INTO "test_results" VALUES(24,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.077251);
INSERT INTO "test_results" VALUES(26,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.056975);
INSERT INTO "test_results" VALUES(28,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.051913);
INSERT INTO "test_results" VALUES(30,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.070374);
INSERT INTO "test_results" VALUES(32,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.075771);
INSERT INTO "test_results" VALUES(34,0,'wrong_answer','assert candidate([1, 2, -4, 5, 6]) == True','True','False','AssertionError',NULL,12,0.075521);
INSERT INTO "test_results" VALUES(36,0,'wrong_answer','assert candidate([]) == False','False','True','AssertionError',NULL,10,0.075212);
INSERT INTO "test_results" VALUES(38,0,'wrong_answer','assert candidate([]) == False','False','True','AssertionError',NULL,10,0.085935);
INSERT INTO "test_results" VALUES(40,0,'wrong_answer','assert candidate([]) == False','False','True','AssertionError',NULL,10,0.08681);
INSERT INTO "test_results" VALUES(42,0,'wrong_answer','assert candidate([1, 2, -3, 1, 2, -3]) == False','False','True','AssertionError',NULL,11,0.065845);
INSERT INTO "test_results" VALUES(44,0,'wrong_answer','assert candidate([1, 2, -3, 1, 2, -3]) == False','False','True','AssertionError',NULL,11,0.070136);
INSERT INTO "test_results" VALUES(45,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.040492);
INSERT INTO "test_results" VALUES(46,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.008728);
INSERT INTO "test_results" VALUES(48,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.043608);
INSERT INTO "test_results" VALUES(49,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.043326);
INSERT INTO "test_results" VALUES(50,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.043167);
INSERT INTO "test_results" VALUES(59,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.019814);
INSERT INTO "test_results" VALUES(62,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''(()()) ('', ''(())) () ((('']','AssertionError',NULL,10,0.033015);
INSERT INTO "test_results" VALUES(64,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.034816);
INSERT INTO "test_results" VALUES(61,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.037022);
INSERT INTO "test_results" VALUES(65,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.042302);
INSERT INTO "test_results" VALUES(63,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.04776);
INSERT INTO "test_results" VALUES(60,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''result'' is not defined',27,0.049562);
INSERT INTO "test_results" VALUES(66,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.038848);
INSERT INTO "test_results" VALUES(71,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.004927);
INSERT INTO "test_results" VALUES(72,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.011559);
INSERT INTO "test_results" VALUES(73,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.010109);
INSERT INTO "test_results" VALUES(74,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.01083);
INSERT INTO "test_results" VALUES(88,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.011095);
INSERT INTO "test_results" VALUES(87,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.025027);
INSERT INTO "test_results" VALUES(89,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.011429);
INSERT INTO "test_results" VALUES(90,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.015098);
INSERT INTO "test_results" VALUES(91,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''((('', ''((('', ''('', ''((((('']','AssertionError',NULL,10,0.012311);
INSERT INTO "test_results" VALUES(92,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''(()()) ('', ''(())) () ((('']','AssertionError',NULL,10,0.004831);
INSERT INTO "test_results" VALUES(93,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''(()'', ''(()()'', ''(()())((())'', ''(()())((()))()((())'', ''(()())((()))()((())()'', ''(()())((()))()((())()()'']','AssertionError',NULL,10,0.021062);
INSERT INTO "test_results" VALUES(94,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.026524);
INSERT INTO "test_results" VALUES(95,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.026116);
INSERT INTO "test_results" VALUES(96,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.02571);
INSERT INTO "test_results" VALUES(98,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.020781);
INSERT INTO "test_results" VALUES(97,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.025329);
INSERT INTO "test_results" VALUES(99,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.035007);
INSERT INTO "test_results" VALUES(100,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.029109);
INSERT INTO "test_results" VALUES(102,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.040733);
INSERT INTO "test_results" VALUES(103,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.04448);
INSERT INTO "test_results" VALUES(104,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.041782);
INSERT INTO "test_results" VALUES(106,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.01258);
INSERT INTO "test_results" VALUES(107,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''('', ''('', '')('', '')) (('', ''('', ''))) ('', '') ('', ''('', ''())('', '')('']','AssertionError',NULL,10,0.016257);
INSERT INTO "test_results" VALUES(109,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.010775);
INSERT INTO "test_results" VALUES(110,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.010918);
INSERT INTO "test_results" VALUES(112,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.011782);
INSERT INTO "test_results" VALUES(113,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.019733);
INSERT INTO "test_results" VALUES(115,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.019751);
INSERT INTO "test_results" VALUES(116,0,'wrong_answer','assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False','False','True','AssertionError',NULL,11,0.021373);
INSERT INTO "test_results" VALUES(117,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.011575);
INSERT INTO "test_results" VALUES(119,0,'wrong_answer','assert candidate([1, 2, -4, 5, 6]) == True','True','False','AssertionError',NULL,12,0.022912);
INSERT INTO "test_results" VALUES(121,0,'wrong_answer','assert candidate([]) == False','False','True','AssertionError',NULL,10,0.017346);
INSERT INTO "test_results" VALUES(123,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',19,0.010679);
INSERT INTO "test_results" VALUES(125,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',18,0.008944);
INSERT INTO "test_results" VALUES(3,0,'wrong_answer','assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False','False','True','AssertionError',NULL,11,0.009193);
INSERT INTO "test_results" VALUES(128,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.00799);
INSERT INTO "test_results" VALUES(130,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.013522);
INSERT INTO "test_results" VALUES(131,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''result'' is not defined',28,0.011531);
INSERT INTO "test_results" VALUES(132,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.004732);
INSERT INTO "test_results" VALUES(135,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.006227);
INSERT INTO "test_results" VALUES(136,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.004838);
INSERT INTO "test_results" VALUES(139,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.009422);
INSERT INTO "test_results" VALUES(140,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''(()'', ''()'', '')((()'', '')'', '')()((()'', '')'', ''()'', ''()'']','AssertionError',NULL,10,0.008563);
INSERT INTO "test_results" VALUES(47,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''result'' is not defined',28,0.006493);
INSERT INTO "test_results" VALUES(143,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''result'' is not defined',28,0.010094);
INSERT INTO "test_results" VALUES(145,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.021862);
INSERT INTO "test_results" VALUES(146,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.01279);
INSERT INTO "test_results" VALUES(147,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.004061);
INSERT INTO "test_results" VALUES(149,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.016981);
INSERT INTO "test_results" VALUES(150,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.01338);
INSERT INTO "test_results" VALUES(152,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''(()()) ('', ''(())) () ((('']','AssertionError',NULL,10,0.010459);
INSERT INTO "test_results" VALUES(153,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[]','AssertionError',NULL,10,0.016491);
INSERT INTO "test_results" VALUES(101,0,'compile_error',NULL,NULL,NULL,'SyntaxError','expected '':''',20,0.003635);
INSERT INTO "test_results" VALUES(156,0,'wrong_answer','assert candidate(''(()()) ((())) () ((())()())'') == [
        ''(()())'', ''((()))'', ''()'', ''((())()())''
    ]','[''(()())'', ''((()))'', ''()'', ''((())()())'']','[''((( '', ''((( '', ''( '']','AssertionError',NULL,10,0.010928);
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE UNIQUE INDEX tasks_by_position ON tasks(run_id, position);
CREATE INDEX calls_by_task ON calls(run_id, task_id);
CREATE INDEX nodes_stats ON nodes(run_id, task_id, kind, depth, origin, passed, tokens);
CREATE INDEX nodes_by_parent ON nodes(parent_id);
CREATE INDEX nodes_by_call ON nodes(call_id);
CREATE INDEX nodes_by_run_seq ON nodes(run_id, seq);
CREATE INDEX nodes_by_seq ON nodes(seq);
COMMIT;
