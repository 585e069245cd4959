-- A database written by schema version 3 (migrations m001-m003), with one
-- small simulated run and a person's feedback (an exploration); its full-text index
-- was kept by that version's triggers. Never regenerate it.
PRAGMA user_version = 3;
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'repair_tui','m001_create_schema','2026-12-07 18:23:31.307167+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'repair_tui','m002_search_text','2026-12-07 18:23:31.307994+00:00');
INSERT INTO "_sqlite_migrations" VALUES(3,'repair_tui','m003_explorations','2026-12-07 18:23:31.308906+00:00');
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
            created_utc TEXT NOT NULL, exploration_id INTEGER
            REFERENCES explorations(id) ON DELETE CASCADE,
            UNIQUE (run_id, key),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        );
INSERT INTO "calls" VALUES(1,1,'HumanEval/0','generate|HumanEval/0|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":175962326}','[{"id":"chatcmpl-sim-4a22bedaee479a7661c1c7a0","object":"chat.completion","created":1796667811,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\n# Solution\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is my implementation:\n\n```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":322,"completion_tokens":360,"total_tokens":682}}]',322,360,1.7596095999761018902e-01,1,'ok',NULL,'generate-v1','2026-12-07T18:23:31.835+00:00',NULL);
INSERT INTO "calls" VALUES(2,1,'HumanEval/1','generate|HumanEval/1|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1072495541}','[{"id":"chatcmpl-sim-ea3a15134b70ae8df93ff562","object":"chat.completion","created":1796667811,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"This program follows the specification:\n\n```python\nfrom typing import List\n\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":313,"completion_tokens":406,"total_tokens":719}}]',313,406,9.15937399986432865262e-03,1,'ok',NULL,'generate-v1','2026-12-07T18:23:31.845+00:00',NULL);
INSERT INTO "calls" VALUES(3,1,'HumanEval/2','generate|HumanEval/2|0','generate','sim-weak','[{"role":"system","content":"You are an expert Python programmer. You will be given a question (a problem specification) and will write a correct, complete Python program that matches the specification and passes all tests. Follow the input/output format the question asks for. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n"},{"role":"assistant","content":"```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1631899502}','[{"id":"chatcmpl-sim-5cdfed3d57e58310189bfdff","object":"chat.completion","created":1796667811,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following program solves the problem.\n\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    # done\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"Here is a solution:\n\n```python\n# Solution\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":283,"completion_tokens":205,"total_tokens":488}}]',283,205,1.08541000008699484169e-03,1,'ok',NULL,'generate-v1','2026-12-07T18:23:31.847+00:00',NULL);
INSERT INTO "calls" VALUES(4,1,'HumanEval/1','joint|HumanEval/1|p0|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n\n### ERROR\nRunning the tests, the program raised NameError: name ''current_string'' is not defined at line 18 of the program:\n    current_string.append(c)\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":1219294100}','[{"id":"chatcmpl-sim-ddec08fa4b92afcd8b3cd50f","object":"chat.completion","created":1796667811,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: Line 21 does not handle the case where the input is empty.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The equality test on line 15 compares values of different types, so it is never true.\n\n### FIXED PYTHON CODE\n```python\nfrom typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    current_depth = 0\n\n    for c in paren_string:\n        if c != ''('':\n\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth += 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":708,"completion_tokens":441,"total_tokens":1149}}]',708,441,0.00447906299814349,1,'ok',NULL,'joint-v1','2026-12-07T18:23:31.906+00:00',NULL);
INSERT INTO "calls" VALUES(5,1,'HumanEval/2','joint|HumanEval/2|p0|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    # done\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":352052485}','[{"id":"chatcmpl-sim-b44d577e7db6c7b5c51255c9","object":"chat.completion","created":1796667811,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The result is computed for the wrong part of the input; the first element should be treated separately.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The program does not handle the edge case of an empty input or a single element.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":596,"completion_tokens":253,"total_tokens":849}}]',596,253,1.48983899998711422085e-03,1,'ok',NULL,'joint-v1','2026-12-07T18:23:31.913+00:00',NULL);
INSERT INTO "calls" VALUES(6,1,'HumanEval/2','joint|HumanEval/2|p1|0','joint','sim-weak','[{"role":"system","content":"You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program that does not pass its tests. First give a concise explanation (at most 2-3 sentences) of what is wrong with the code. Then write a fixed version of the whole program. Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."},{"role":"user","content":"### QUESTION\ndef count_vowel_words(sentence: str) -> int:\n    \"\"\"Return how many words of the sentence start with a vowel (a, e, i, o, u),\n    ignoring case. Words are separated by spaces.\n    >>> count_vowel_words(\"An apple fell\")\n    2\n    >>> count_vowel_words(\"\")\n    0\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0] in \"aeiou\")\n```\n\n### ERROR\nWrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1\n"},{"role":"assistant","content":"The following is a concise explanation of the issue: The test `word[0] in \"aeiou\"` on line 2 is case-sensitive, so a word that starts with an upper-case vowel such as \"An\" is not counted. Lower-case the first letter before the test: `word[0].lower() in \"aeiou\"`.\n\n### FIXED PYTHON CODE\n```python\ndef count_vowel_words(sentence: str) -> int:\n    return sum(1 for word in sentence.split() if word[0].lower() in \"aeiou\")\n```"},{"role":"user","content":"### QUESTION\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n\n### INCORRECT PYTHON CODE\n```python\n# Solution\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n\n### ERROR\nThe test assertion failed (line 10 of the tests):\nassert candidate(3.5) == 0.5\nits left side evaluated to:\n3.0\nand its right side to:\n0.5\n"}]','{"n":2,"temperature":0.8,"max_tokens":1024,"seed":303896629}','[{"id":"chatcmpl-sim-f6097d41d5d08be3c7f1ad0c","object":"chat.completion","created":1796667811,"model":"sim-weak","system_fingerprint":"repair-tui-sim","simulated":true,"choices":[{"index":0,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The program does not handle the edge case of an empty input or a single element.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null},{"index":1,"message":{"role":"assistant","content":"The following is a concise explanation of the issue: The result is computed for the wrong part of the input; the first element should be treated separately.\n\n### FIXED PYTHON CODE\n```python\n\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number // 1.0\n```\n"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":595,"completion_tokens":253,"total_tokens":848}}]',595,253,1.15913899935549125075e-03,1,'ok',NULL,'joint-v1','2026-12-07T18:23:31.915+00:00',NULL);
CREATE TABLE executions (
            id INTEGER PRIMARY KEY,
            node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
            exploration_id INTEGER REFERENCES explorations(id) ON DELETE CASCADE,
            passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
            fault TEXT,
            error_message TEXT,
            isolation TEXT,
            executed_utc TEXT NOT NULL,
            duration REAL,
            extra_json TEXT NOT NULL DEFAULT '{}',
            results_json TEXT NOT NULL DEFAULT '[]'
        );
CREATE TABLE explorations (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            params_json TEXT NOT NULL DEFAULT '{}',
            created_utc TEXT NOT NULL
        );
INSERT INTO "explorations" VALUES(1,1,'feedback','app','{}','2026-12-07T18:23:32.026+00:00');
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
            seq INTEGER NOT NULL, exploration_id INTEGER
            REFERENCES explorations(id) ON DELETE CASCADE,
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
',182,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',0,0,1,'2026-12-07T18:23:31.835+00:00','2026-12-07T18:23:31.920+00:00',0.040402,'{}','{}',23,NULL);
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
',178,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',0,1,1,'2026-12-07T18:23:31.835+00:00','2026-12-07T18:23:31.920+00:00',0.059984,'{}','{}',24,NULL);
INSERT INTO "nodes" VALUES(3,1,'HumanEval/1',NULL,'HumanEval/1|p0','program','model','sim-weak','The following program solves the problem.

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
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',0,0,2,'2026-12-07T18:23:31.845+00:00','2026-12-07T18:23:31.900+00:00',0.040973,'{}','{}',7,NULL);
INSERT INTO "nodes" VALUES(4,1,'HumanEval/1',NULL,'HumanEval/1|p1','program','model','sim-weak','This program follows the specification:

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
',207,1,NULL,NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',0,1,2,'2026-12-07T18:23:31.845+00:00','2026-12-07T18:23:31.900+00:00',0.036881,'{}','{}',8,NULL);
INSERT INTO "nodes" VALUES(5,1,'HumanEval/2',NULL,'HumanEval/2|p0','program','model','sim-weak','The following program solves the problem.

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
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',0,0,3,'2026-12-07T18:23:31.847+00:00','2026-12-07T18:23:31.911+00:00',0.047995,'{}','{}',13,NULL);
INSERT INTO "nodes" VALUES(6,1,'HumanEval/2',NULL,'HumanEval/2|p1','program','model','sim-weak','Here is a solution:

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
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',0,1,3,'2026-12-07T18:23:31.847+00:00','2026-12-07T18:23:31.911+00:00',0.048013,'{}','{}',14,NULL);
INSERT INTO "nodes" VALUES(7,1,'HumanEval/1',3,'HumanEval/1|p0|f0','feedback','model','sim-weak','Line 21 does not handle the case where the input is empty.',NULL,14,NULL,NULL,NULL,NULL,1,0,4,'2026-12-07T18:23:31.906+00:00',NULL,NULL,'{}','{"joint":true}',9,NULL);
INSERT INTO "nodes" VALUES(8,1,'HumanEval/1',7,'HumanEval/1|p0|f0|r0','program','model','sim-weak','```python
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
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',1,0,4,'2026-12-07T18:23:31.906+00:00','2026-12-07T18:23:31.946+00:00',0.03352,'{}','{}',25,NULL);
INSERT INTO "nodes" VALUES(9,1,'HumanEval/1',3,'HumanEval/1|p0|f1','feedback','model','sim-weak','The equality test on line 15 compares values of different types, so it is never true.',NULL,19,NULL,NULL,NULL,NULL,1,1,4,'2026-12-07T18:23:31.906+00:00',NULL,NULL,'{}','{"joint":true}',11,NULL);
INSERT INTO "nodes" VALUES(10,1,'HumanEval/1',9,'HumanEval/1|p0|f1|r0','program','model','sim-weak','```python
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
    current_string.append(c)','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',1,0,4,'2026-12-07T18:23:31.907+00:00','2026-12-07T18:23:31.946+00:00',0.038192,'{}','{}',26,NULL);
INSERT INTO "nodes" VALUES(11,1,'HumanEval/2',5,'HumanEval/2|p0|f0','feedback','model','sim-weak','The result is computed for the wrong part of the input; the first element should be treated separately.',NULL,20,NULL,NULL,NULL,NULL,1,0,5,'2026-12-07T18:23:31.913+00:00',NULL,NULL,'{}','{"joint":true}',15,NULL);
INSERT INTO "nodes" VALUES(12,1,'HumanEval/2',11,'HumanEval/2|p0|f0|r0','program','model','sim-weak','```python


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
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',1,0,5,'2026-12-07T18:23:31.913+00:00','2026-12-07T18:23:31.957+00:00',0.04063,'{}','{}',29,NULL);
INSERT INTO "nodes" VALUES(13,1,'HumanEval/2',5,'HumanEval/2|p0|f1','feedback','model','sim-weak','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,1,1,5,'2026-12-07T18:23:31.914+00:00',NULL,NULL,'{}','{"joint":true}',17,NULL);
INSERT INTO "nodes" VALUES(14,1,'HumanEval/2',13,'HumanEval/2|p0|f1|r0','program','model','sim-weak','```python


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
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',1,0,5,'2026-12-07T18:23:31.914+00:00','2026-12-07T18:23:31.957+00:00',0.029944,'{}','{}',30,NULL);
INSERT INTO "nodes" VALUES(15,1,'HumanEval/2',6,'HumanEval/2|p1|f0','feedback','model','sim-weak','The program does not handle the edge case of an empty input or a single element.',NULL,17,NULL,NULL,NULL,NULL,1,0,6,'2026-12-07T18:23:31.915+00:00',NULL,NULL,'{}','{"joint":true}',19,NULL);
INSERT INTO "nodes" VALUES(16,1,'HumanEval/2',15,'HumanEval/2|p1|f0|r0','program','model','sim-weak','```python


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
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',1,0,6,'2026-12-07T18:23:31.916+00:00','2026-12-07T18:23:31.949+00:00',0.032448,'{}','{}',27,NULL);
INSERT INTO "nodes" VALUES(17,1,'HumanEval/2',6,'HumanEval/2|p1|f1','feedback','model','sim-weak','The result is computed for the wrong part of the input; the first element should be treated separately.',NULL,20,NULL,NULL,NULL,NULL,1,1,6,'2026-12-07T18:23:31.916+00:00',NULL,NULL,'{}','{"joint":true}',21,NULL);
INSERT INTO "nodes" VALUES(18,1,'HumanEval/2',17,'HumanEval/2|p1|f1|r0','program','model','sim-weak','```python


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
0.5','namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',1,0,6,'2026-12-07T18:23:31.916+00:00','2026-12-07T18:23:31.950+00:00',0.027481,'{}','{}',28,NULL);
INSERT INTO "nodes" VALUES(19,1,'HumanEval/1',3,'HumanEval/1|p0|x1h0','feedback','human',NULL,'Pelican: the loop stops one element early.',NULL,0,NULL,NULL,NULL,NULL,1,0,NULL,'2026-12-07T18:23:32.026+00:00',NULL,NULL,'{}','{}',31,1);
CREATE VIRTUAL TABLE nodes_fts USING FTS5 (text, code, content=nodes);
INSERT INTO "nodes_fts" VALUES('This program follows the specification:

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
');
INSERT INTO "nodes_fts" VALUES('Here is my implementation:

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
');
INSERT INTO "nodes_fts" VALUES('The following program solves the problem.

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
');
INSERT INTO "nodes_fts" VALUES('This program follows the specification:

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
');
INSERT INTO "nodes_fts" VALUES('The following program solves the problem.

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
');
INSERT INTO "nodes_fts" VALUES('Here is a solution:

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
');
INSERT INTO "nodes_fts" VALUES('Line 21 does not handle the case where the input is empty.',NULL);
INSERT INTO "nodes_fts" VALUES('```python
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
');
INSERT INTO "nodes_fts" VALUES('The equality test on line 15 compares values of different types, so it is never true.',NULL);
INSERT INTO "nodes_fts" VALUES('```python
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
');
INSERT INTO "nodes_fts" VALUES('The result is computed for the wrong part of the input; the first element should be treated separately.',NULL);
INSERT INTO "nodes_fts" VALUES('```python


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
');
INSERT INTO "nodes_fts" VALUES('The program does not handle the edge case of an empty input or a single element.',NULL);
INSERT INTO "nodes_fts" VALUES('```python


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
');
INSERT INTO "nodes_fts" VALUES('The program does not handle the edge case of an empty input or a single element.',NULL);
INSERT INTO "nodes_fts" VALUES('```python


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
');
INSERT INTO "nodes_fts" VALUES('The result is computed for the wrong part of the input; the first element should be treated separately.',NULL);
INSERT INTO "nodes_fts" VALUES('```python


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
');
INSERT INTO "nodes_fts" VALUES('Pelican: the loop stops one element early.',NULL);
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
INSERT INTO "runs" VALUES(1,'v3-run','2026-12-07T18:23:31.653+00:00','2026-12-07T18:23:31.958+00:00','humaneval','{"base_url": null, "concurrency": 4, "dataset": "humaneval", "depth": 1, "difficulty": null, "executor": "local", "feedback_model": null, "feedback_temperature": null, "limit": 3, "max_tokens": 1024, "mode": "joint", "model": "sim-weak", "nfr": 2, "np": 2, "ray_address": null, "seed": 0, "sim_latency": 0.0, "split": null, "task_ids": [], "temperature": 0.8}','finished',NULL,'namespaces(pid,ipc,mount,net,uts)+uid+rlimits+seccomp+cgroup-v1(memory,cpu-time)',1);
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
','{"style":"assert","entry_point":"has_close_elements","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False\n    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n\n","prompt":"from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n"}','has_close_elements','','["from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(1,'HumanEval/1',1,'humaneval',NULL,'from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
','{"style":"assert","entry_point":"separate_paren_groups","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(''(()()) ((())) () ((())()())'') == [\n        ''(()())'', ''((()))'', ''()'', ''((())()())''\n    ]\n    assert candidate(''() (()) ((())) (((())))'') == [\n        ''()'', ''(())'', ''((()))'', ''(((())))''\n    ]\n    assert candidate(''(()(())((())))'') == [\n        ''(()(())((())))''\n    ]\n    assert candidate(''( ) (( )) (( )( ))'') == [''()'', ''(())'', ''(()())'']\n","prompt":"from typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n"}','separate_paren_groups','','["from typing import List\n\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n    \"\"\" Input to this function is a string containing multiple groups of nested parentheses. Your goal is to\n    separate those group into separate strings and return the list of those.\n    Separate groups are balanced (each open brace is properly closed) and not nested within each other\n    Ignore any spaces in the input string.\n    >>> separate_paren_groups(''( ) (( )) (( )( ))'')\n    [''()'', ''(())'', ''(()())'']\n    \"\"\"\n    result = []\n    current_string = []\n    current_depth = 0\n\n    for c in paren_string:\n        if c == ''('':\n            current_depth += 1\n            current_string.append(c)\n        elif c == '')'':\n            current_depth -= 1\n            current_string.append(c)\n\n            if current_depth == 0:\n                result.append(''''.join(current_string))\n                current_string.clear()\n\n    return result\n"]',NULL,'{}');
INSERT INTO "tasks" VALUES(1,'HumanEval/2',2,'humaneval',NULL,'

def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
','{"style":"assert","entry_point":"truncate_number","test":"\n\nMETADATA = {\n    ''author'': ''jt'',\n    ''dataset'': ''test''\n}\n\n\ndef check(candidate):\n    assert candidate(3.5) == 0.5\n    assert abs(candidate(1.33) - 0.33) < 1e-6\n    assert abs(candidate(123.456) - 0.456) < 1e-6\n","prompt":"\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n"}','truncate_number','','["\n\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point number, it can be decomposed into\n    and integer part (largest integer smaller than given number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number % 1.0\n"]',NULL,'{}');
CREATE VIRTUAL TABLE tasks_fts USING FTS5 (spec, content=tasks);
INSERT INTO "tasks_fts" VALUES('from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
');
INSERT INTO "tasks_fts" VALUES('from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """ Input to this function is a string containing multiple groups of nested parentheses. Your goal is to
    separate those group into separate strings and return the list of those.
    Separate groups are balanced (each open brace is properly closed) and not nested within each other
    Ignore any spaces in the input string.
    >>> separate_paren_groups(''( ) (( )) (( )( ))'')
    [''()'', ''(())'', ''(()())'']
    """
');
INSERT INTO "tasks_fts" VALUES('

def truncate_number(number: float) -> float:
    """ Given a positive floating point number, it can be decomposed into
    and integer part (largest integer smaller than given number) and decimals
    (leftover part always smaller than 1).

    Return the decimal part of the number.
    >>> truncate_number(3.5)
    0.5
    """
');
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
INSERT INTO "test_results" VALUES(3,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',18,0.031805);
INSERT INTO "test_results" VALUES(4,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.020082);
INSERT INTO "test_results" VALUES(5,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.03055);
INSERT INTO "test_results" VALUES(6,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.040918);
INSERT INTO "test_results" VALUES(1,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.029072);
INSERT INTO "test_results" VALUES(2,0,'passed',NULL,NULL,NULL,NULL,NULL,NULL,0.050596);
INSERT INTO "test_results" VALUES(8,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',18,0.021734);
INSERT INTO "test_results" VALUES(10,0,'runtime_error',NULL,NULL,NULL,'NameError','name ''current_string'' is not defined',18,0.025956);
INSERT INTO "test_results" VALUES(16,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.024695);
INSERT INTO "test_results" VALUES(18,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.017115);
INSERT INTO "test_results" VALUES(12,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.030553);
INSERT INTO "test_results" VALUES(14,0,'wrong_answer','assert candidate(3.5) == 0.5','0.5','3.0','AssertionError',NULL,10,0.023769);
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE UNIQUE INDEX tasks_by_position ON tasks(run_id, position);
CREATE INDEX calls_by_task ON calls(run_id, task_id);
CREATE INDEX nodes_by_parent ON nodes(parent_id);
CREATE INDEX nodes_by_call ON nodes(call_id);
CREATE INDEX nodes_by_run_seq ON nodes(run_id, seq);
CREATE INDEX nodes_by_seq ON nodes(seq);
CREATE TRIGGER nodes_ai AFTER INSERT ON nodes BEGIN INSERT INTO nodes_fts (rowid, text, code) VALUES (new.rowid, new.text, new.code); END;
CREATE TRIGGER nodes_ad AFTER DELETE ON nodes BEGIN INSERT INTO nodes_fts (nodes_fts, rowid, text, code) VALUES ('delete', old.rowid, old.text, old.code); END;
CREATE TRIGGER nodes_au AFTER UPDATE OF text, code ON nodes BEGIN INSERT INTO nodes_fts (nodes_fts, rowid, text, code) VALUES ('delete', old.rowid, old.text, old.code); INSERT INTO nodes_fts (rowid, text, code) VALUES (new.rowid, new.text, new.code); END;
CREATE TRIGGER tasks_ai AFTER INSERT ON tasks BEGIN INSERT INTO tasks_fts (rowid, spec) VALUES (new.rowid, new.spec); END;
CREATE TRIGGER tasks_ad AFTER DELETE ON tasks BEGIN INSERT INTO tasks_fts (tasks_fts, rowid, spec) VALUES ('delete', old.rowid, old.spec); END;
CREATE TRIGGER tasks_au AFTER UPDATE OF spec ON tasks BEGIN INSERT INTO tasks_fts (tasks_fts, rowid, spec) VALUES ('delete', old.rowid, old.spec); INSERT INTO tasks_fts (rowid, spec) VALUES (new.rowid, new.spec); END;
CREATE INDEX explorations_by_run ON explorations(run_id);
CREATE INDEX nodes_stats ON nodes(
            run_id, exploration_id, task_id, kind, depth, origin, passed, tokens);
CREATE INDEX nodes_by_exploration ON nodes(exploration_id);
CREATE INDEX executions_by_node ON executions(node_id);
INSERT INTO nodes_fts (nodes_fts) VALUES ('rebuild');
INSERT INTO tasks_fts (tasks_fts) VALUES ('rebuild');
COMMIT;
