"""A recorded run of the seed: Mistral-7B-Instruct-v0.3 (4-bit nf4, temperature 0.3) on "make the
snake game for web. With database to save player's score".

Source: github.com/Adriel007/matrioska, results/sample_1/model-matrioska-log.txt (commit 3dab23e,
"comparative tests and results"). The architect's reply is verbatim (a plan of five modules,
without a `files` field); the module replies are verbatim, three of them shortened where they
say `[...]` (CSS rules, install steps, JavaScript functions). game_logic's reply is design notes
with no code block, and publishes none of the keys it declared (game_rules, player_controls):
in the seed every module was generated; it must stay so (issue 32).
"""

from __future__ import annotations

TASK = "make the snake game for web. With database to save player's score"

ARCHITECT_REPLY = r"""and high scores.

{
  "project_name": "Snake Game",
  "general_manual": {
    "goal": "Create a web-based snake game with a database to save player scores and high scores",
    "modules": [
      {
        "id": "game_logic",
        "name": "Game Logic",
        "description": "Define game rules, player controls, and game over conditions",
        "inputs": "game requirements",
        "outputs": "Game logic plan",
        "dependencies": [],
        "rules": "Keep logic simple and easy to understand. Define player controls, game over conditions, and game rules.",
        "shared_state_reads": [],
        "shared_state_writes": ["game_rules", "player_controls"]
      },
      {
        "id": "game_visuals",
        "name": "Game Visuals",
        "description": "Design the game's visual elements, including the snake, food, and game board",
        "inputs": "game logic",
        "outputs": "Visual design plan",
        "dependencies": ["game_logic"],
        "rules": "Design simple and clean visuals. Use CSS to style the game elements. May suggest a CDN for game fonts or icons.",
        "shared_state_reads": ["game_rules", "player_controls"],
        "shared_state_writes": ["visual_elements"]
      },
      {
        "id": "database_setup",
        "name": "Database Setup",
        "description": "Set up a database to store player scores and high scores",
        "inputs": "functional requirements",
        "outputs": "Database schema and connection plan",
        "dependencies": [],
        "rules": "Propose a simple SQLite or PostgreSQL database. List dependencies in requirements.txt (e.g. SQLAlchemy).",
        "shared_state_reads": [],
        "shared_state_writes": ["db_schema", "db_connection"]
      },
      {
        "id": "database_interaction",
        "name": "Database Interaction",
        "description": "Define functions to save player scores and retrieve high scores",
        "inputs": "database setup",
        "outputs": "Database interaction plan",
        "dependencies": ["database_setup"],
        "rules": "Define functions to save player scores and retrieve high scores. Keep interaction simple and efficient.",
        "shared_state_reads": ["db_schema", "db_connection"],
        "shared_state_writes": ["save_score", "get_high_scores"]
      },
      {
        "id": "game_controller",
        "name": "Game Controller",
        "description": "Combine game logic, visuals, and database interaction to create the game controller",
        "inputs": ["game_logic", "game_visuals", "database_interaction"],
        "outputs": "Game controller plan",
        "dependencies": ["game_logic", "game_visuals", "database_interaction"],
        "rules": "Combine game logic, visuals, and database interaction to create the game controller. Keep the controller simple and efficient.",
        "shared_state_reads": ["game_rules", "player_controls", "visual_elements", "save_score", "get_high_scores"],
        "shared_state_writes": []
      }
    ],
    "integration_rules": "Combine all modules ensuring consistent shared_state keys. Use CDNs in visual suggestions and requirements.txt for database dependencies."
  },
  "specific_manuals": [
    {
      "module_id": "game_logic",
      "manual_text": "Define the game rules, player controls, and game over conditions. For example, the snake can move up, down, left, and right using arrow keys. The game ends when the snake hits the border or itself. The player's score increases with each piece of food consumed."
    },
    {
      "module_id": "game_visuals",
      "manual_text": "Design the game's visual elements, including the snake, food, and game board. Use CSS to style the game elements. For example, the snake can be represented by a series of squares, and the food can be represented by a circle. Use a CDN for game fonts or icons if necessary."
    },
    {
      "module_id": "database_setup",
      "manual_text": "Set up a database to store player scores and high scores. Define the database schema, including tables for players and scores. Use SQLAlchemy to interact with the database. List dependencies in requirements.txt."
    },
    {
      "module_id": "database_interaction",
      "manual_text": "Define functions to save player scores and retrieve high scores. For example, save_score function should take the player's score as an argument and insert it into the database. The get_high_scores function should retrieve the top scores from the database."
    },
    {
      "module_id": "game_controller",
      "manual_text": "Combine game logic, visuals, and database interaction to create the game controller. For example, the game controller should update the game state based on player input, render the game visuals, and call the save_score function when the player consumes food."
    }
  ]
}
"""

MODULE_REPLIES = {
    "game_logic": r"""PLAYER_CONTROLS:
{
  "up": "move_up",
  "down": "move_down",
  "left": "move_left",
  "right": "move_right"
}

GAME_OVER_CONDITIONS:
{
  "border_hit": "game_over",
  "self_hit": "game_over"
}

GAME_RULES:
{
  "food_consumption": "increase_score",
  "speed_increase": "increase_speed",
  "length_increase": "increase_length"
}

SHARED_STATE_UPDATE:
{
  "score": 0,
  "speed": 100,
  "length": 3
}
""",
    "game_visuals": r"""SOLUTION:

```html
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <title>Snake Game</title>
  <link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.2.0/css/all.min.css" integrity="sha512-xh6Q/w6FZRK/sORAl14MVWouTBl7TBK/S/xz0utmajQIM7fq/alwXN8b/zcASlCUI6Kis4CFs3CSU9PT/Ic4Q==" crossorigin="anonymous">
  <style>
    body {
      font-family: Arial, sans-serif;
      background-color: #f5f5dc;
    }

    .game-board {
      display: grid;
      grid-template-columns: repeat(10, 30px);
      grid-template-rows: repeat(20, 30px);
      gap: 1px;
      border: 1px solid #000;
      padding: 10px;
    }

    /* [...] */

    .snake-head {
      background-color: #00ff7f;
    }

    .snake-body {
      background-color: #00ff00;
    }

    .food {
      background-color: #ffd700;
    }

    /* [...] */
  </style>
</head>
<body>
  <div class="game-board">
    <!-- Snake elements will be inserted here -->
  </div>
  <div id="score" class="score">Score: 0</div>

  <script>
    // Your JavaScript code for the game logic goes here
  </script>
</body>
</html>
```

SHARED_STATE_UPDATE:
{
  "snakeElements": ["snake-head-element", "snake-body-element1", "snake-body-element2"],
  "foodElement": "food-element"
}
""",
    "database_setup": r"""DEPENDENCIES:
- SQLAlchemy

DATABASE SETUP:

1. Install SQLAlchemy:
```
pip install SQLAlchemy
```

2. Create a new file `database.py` to handle the database connection and models.

3. Define the database connection in `database.py`:

```python
from sqlalchemy import create_engine, Column, Integer, String, ForeignKey
from sqlalchemy.ext.declarative import declarative_base
from sqlalchemy.orm import sessionmaker

Base = declarative_base()

DATABASE_URL = "sqlite:///games.db"

engine = create_engine(DATABASE_URL)
Session = sessionmaker(bind=engine)
```

4. Define the Player and Score models:

```python
class Player(Base):
    __tablename__ = "players"
    id = Column(Integer, primary_key=True)
    name = Column(String)

class Score(Base):
    __tablename__ = "scores"
    id = Column(Integer, primary_key=True)
    player_id = Column(Integer, ForeignKey("players.id"))
    score = Column(Integer)
    player = relationship("Player", back_populates="scores")
```

5. Create the tables if they don't exist:

```python
Base.metadata.create_all(engine)
```

[...]

SHARED_STATE_UPDATE:
{
  "database_url": "sqlite:///games.db"
}
""",
    "database_interaction": """```python
import sqlite3

def setup_database():
    conn = sqlite3.connect('high_scores.db')
    cursor = conn.cursor()
    cursor.execute('''CREATE TABLE IF NOT EXISTS high_scores (
                            id INTEGER PRIMARY KEY,
                            score INTEGER,
                            name TEXT)''')
    conn.commit()
    conn.close()

def save_score(name, score):
    conn = sqlite3.connect('high_scores.db')
    cursor = conn.cursor()
    cursor.execute("INSERT INTO high_scores (score, name) VALUES (?, ?)", (score, name))
    conn.commit()
    conn.close()

def get_high_scores():
    conn = sqlite3.connect('high_scores.db')
    cursor = conn.cursor()
    cursor.execute("SELECT * FROM high_scores ORDER BY score DESC")
    rows = cursor.fetchall()
    conn.close()
    return rows

setup_database()
save_score('Player1', 1000)
save_score('Player2', 900)
save_score('Player3', 800)
high_scores = get_high_scores()
print(high_scores)

SHARED_STATE_UPDATE:
{
  "high_scores": high_scores
}
```

In this example, we have defined functions to save player scores and retrieve high scores using SQLite. The setup_database function initializes the database if it doesn't exist. The save_score function saves a player's score and name into the database. The get_high_scores function retrieves the top scores from the database.

We have also shared the high scores retrieved from the database for other modules to use.
""",
    "game_controller": r"""GAME_CONTROLLER:

function startGame() {
  // Initialize game state
  let gameState = {
    score: 0,
    level: 1,
    food: [],
    player: {
      x: 10,
      y: 10,
      speed: 2
    }
  };

  // Initialize visuals
  createVisualElements(gameState);

  // Initialize event listeners
  document.addEventListener('keydown', handleKeyDown);
  document.addEventListener('keyup', handleKeyUp);

  // Update game state and visuals in game loop
  gameLoop();
}

function gameLoop() {
  // Update game state
  updateGameState();

  // Render game visuals
  renderGameVisual();

  // Call save_score function when the player consumes food
  checkForFoodCollision();

  // Request next frame
  requestAnimationFrame(gameLoop);
}

// [...]

SHARED_STATE_UPDATE:
{
  "score": gameState.score,
  "level": gameState.level
}
""",
}

MODULES = ["game_logic", "game_visuals", "database_setup", "database_interaction", "game_controller"]
