package dev.qmpx.qmp.json;

/** The token kinds of QEMU's JSON lexer (qobject/json-lexer.c), interpolation excluded. */
enum TokenType {
    LCURLY, RCURLY, LSQUARE, RSQUARE, COLON, COMMA, STRING, INTEGER, FLOAT, KEYWORD
}
